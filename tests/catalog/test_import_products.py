import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

HEADER = "sku,name,category,price,stock,details\n"


@pytest.fixture
def shirts():
    return CategoryFactory(slug="shirts", facets=["color", "size"])


def _csv(tmp_path, body: str, header: str = HEADER, name: str = "products.csv"):
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def _import(path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_products", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _details(**values) -> str:
    return '"' + json.dumps(values).replace('"', '""') + '"'


def test_csv_import_creates_products_with_typed_values(tmp_path, shirts):
    path = _csv(tmp_path, f"SH-1,Blue shirt,shirts,19.99,5,{_details(color='blue', size='M')}\n")

    out, _ = _import(path)

    product = Product.objects.get(sku="SH-1")
    assert (product.name, product.category, product.price, product.stock) == (
        "Blue shirt",
        shirts,
        Decimal("19.99"),
        5,
    )
    assert product.details == {"color": "blue", "size": "M"}
    assert product.slug == "blue-shirt-sh-1"
    assert "1 created, 0 updated, 0 unchanged, 0 rejected" in out


def test_jsonl_import_accepts_native_json_values(tmp_path, shirts):
    path = tmp_path / "products.jsonl"
    row = {
        "sku": "SH-2",
        "name": "Red shirt",
        "category": "shirts",
        "price": 12.5,
        "stock": 3,
        "details": {"color": "red", "specs": {"sleeves": "long"}},
    }
    path.write_text(json.dumps(row) + "\n\n")

    out, _ = _import(path)

    product = Product.objects.get(sku="SH-2")
    assert product.price == Decimal("12.50")
    assert product.details["specs"] == {"sleeves": "long"}
    assert "1 created" in out


def test_reimport_counts_identical_rows_as_unchanged_and_changed_rows_as_updated(tmp_path, shirts):
    body = f"SH-1,Blue shirt,shirts,19.99,5,{_details(color='blue')}\nSH-2,Red shirt,shirts,9.99,1,{{}}\n"
    _import(_csv(tmp_path, body))
    first_updated = Product.objects.get(sku="SH-1").updated

    out, _ = _import(_csv(tmp_path, body.replace("9.99,1", "8.99,1")))

    assert "0 created, 1 updated, 1 unchanged, 0 rejected" in out
    assert Product.objects.get(sku="SH-2").price == Decimal("8.99")
    assert Product.objects.get(sku="SH-1").updated == first_updated  # untouched row not rewritten


def test_a_bad_row_writes_nothing_and_names_every_bad_line(tmp_path, shirts):
    body = (
        "SH-1,Good shirt,shirts,19.99,5,{}\n"
        "SH-2,Unknown category,hats,1.00,1,{}\n"
        "SH-3,Negative price,shirts,-1,1,{}\n"
        "SH-4,Fractional stock,shirts,1.00,1.5,{}\n"
        "SH-5,List details,shirts,1.00,1,[1]\n"
        "SH-6,Broken details,shirts,1.00,1,{oops\n"
        "SH-1,Duplicate sku,shirts,1.00,1,{}\n"
        "SH-7,Too many cents,shirts,1.001,1,{}\n"
    )

    with pytest.raises(CommandError, match="7 bad lines: nothing written"):
        _import(_csv(tmp_path, body))

    assert Product.objects.count() == 0


def test_bad_lines_are_reported_with_their_line_number_and_reason(tmp_path, shirts):
    body = "SH-1,Good,shirts,1.00,1,{}\nSH-2,Bad,hats,1.00,1,{}\nSH-3,Bad,shirts,abc,1,{}\n"
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_products", str(_csv(tmp_path, body)), stdout=StringIO(), stderr=err)

    assert "line 3: unknown category 'hats'" in err.getvalue()
    assert "line 4: price must be a number" in err.getvalue()


def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(tmp_path, shirts):
    body = "SH-1,Good,shirts,1.00,1,{}\nSH-2,Bad,hats,1.00,1,{}\n"

    out, err = _import(_csv(tmp_path, body), "--skip-invalid")

    assert list(Product.objects.values_list("sku", flat=True)) == ["SH-1"]
    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in out
    assert "line 3: unknown category 'hats'" in err


def test_dry_run_reports_counts_and_writes_nothing(tmp_path, shirts):
    ProductFactory(sku="SH-1", category=shirts, name="Old", price=Decimal("1.00"), stock=1, details={})
    body = "SH-1,New name,shirts,1.00,1,{}\nSH-2,Fresh,shirts,2.00,2,{}\n"

    out, _ = _import(_csv(tmp_path, body), "--dry-run")

    assert "would be 1 created, 1 updated, 0 unchanged, 0 rejected" in out
    assert list(Product.objects.values_list("name", flat=True)) == ["Old"]


def test_wrong_columns_are_refused_before_reading_rows(tmp_path, shirts):
    path = _csv(tmp_path, "SH-1,Good,shirts,1.00\n", header="sku,name,category,cost\n")

    with pytest.raises(
        CommandError, match=r"line 1: missing columns: price, stock, details; unknown columns: cost"
    ):
        _import(path)
    assert Product.objects.count() == 0


def test_file_that_is_not_utf8_is_refused_and_nothing_written(tmp_path, shirts):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + "SH-1,Good,shirts,1.00,1,{}\nSH-2,Caf\xe9 shirt,shirts,1.00,1,{}\n").encode("latin-1")
    )

    with pytest.raises(CommandError, match="not valid UTF-8"):
        _import(path)
    assert Product.objects.count() == 0


def test_huge_field_is_reported_by_line(tmp_path, shirts):
    huge = "x" * 70_000
    body = f"SH-1,Good,shirts,1.00,1,{_details(notes=huge)}\n"
    err = StringIO()

    with pytest.raises(CommandError, match="1 bad lines"):
        call_command("import_products", str(_csv(tmp_path, body)), stdout=StringIO(), stderr=err)

    assert "line 2: details larger than 64 KB" in err.getvalue()
    assert Product.objects.count() == 0


def test_slug_taken_by_another_product_is_refused(tmp_path, shirts):
    ProductFactory(sku="OTHER", slug="blue", category=shirts)
    path = _csv(
        tmp_path, "SH-1,Blue,shirts,1.00,1,{},blue\n", header="sku,name,category,price,stock,details,slug\n"
    )

    with pytest.raises(CommandError, match="1 bad lines"):
        _import(path)
    assert not Product.objects.filter(sku="SH-1").exists()


def test_unknown_file_type_is_refused(tmp_path):
    (tmp_path / "products.xlsx").write_text("x")

    with pytest.raises(CommandError, match=r"expected a \.csv or \.jsonl file"):
        _import(tmp_path / "products.xlsx")


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        _import(tmp_path / "missing.csv")


def test_skip_invalid_leaves_out_a_row_whose_slug_is_taken_and_imports_the_rest(tmp_path, shirts):
    ProductFactory(sku="OTHER", slug="blue", category=shirts)
    header = "sku,name,category,price,stock,details,slug\n"
    path = _csv(tmp_path, "SH-1,Blue,shirts,1.00,1,{},blue\nSH-2,Red,shirts,1.00,1,{},red\n", header=header)

    out, err = _import(path, "--skip-invalid")

    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in out
    assert "line 2: slug 'blue' is already used by product 'OTHER'" in err
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["OTHER", "SH-2"]


# --- Hostile files: broken encodings, NUL bytes, huge fields, duplicates, wrong keys -------------


def _jsonl_row(sku: str, **changes) -> str:
    row = {"sku": sku, "name": f"Shirt {sku}", "category": "shirts", "price": 1, "stock": 1, "details": {}}
    return json.dumps(row | changes)


def _bad_lines(path, *args) -> str:
    """Run an import that must fail, and return what it wrote to stderr."""
    err = StringIO()
    with pytest.raises(CommandError, match="bad lines: nothing written"):
        call_command("import_products", str(path), *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def test_jsonl_line_that_is_not_utf8_is_named_and_nothing_written(tmp_path, shirts):
    path = tmp_path / "products.jsonl"
    bad = _jsonl_row("SH-2", name="Caf\xe9").replace("\\u00e9", "\xe9").encode("latin-1")
    path.write_bytes(_jsonl_row("SH-1").encode() + b"\n" + bad + b"\n" + _jsonl_row("SH-3").encode() + b"\n")

    err = _bad_lines(path)

    assert "products.jsonl: line 2: not valid UTF-8" in err
    assert Product.objects.count() == 0


def test_skip_invalid_imports_the_utf8_lines_around_a_broken_one(tmp_path, shirts):
    path = tmp_path / "products.jsonl"
    path.write_bytes(_jsonl_row("SH-1").encode() + b"\n\xff\xfe\n" + _jsonl_row("SH-3").encode() + b"\n")

    _, err = _import(path, "--skip-invalid")

    assert "line 2: not valid UTF-8" in err
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["SH-1", "SH-3"]


def test_csv_in_utf16_is_refused_at_its_first_line(tmp_path, shirts):
    path = tmp_path / "products.csv"
    path.write_bytes((HEADER + "SH-1,Good,shirts,1.00,1,{}\n").encode("utf-16"))

    with pytest.raises(CommandError, match="line 1: not valid UTF-8"):
        _import(path)
    assert Product.objects.count() == 0


def test_broken_utf8_after_a_staged_batch_writes_nothing(tmp_path, shirts):
    # 12,000 good rows: the first batch of 10,000 is already in the staging table when the bad byte comes.
    path = tmp_path / "products.csv"
    good = "".join(f"SK-{n},Shirt {n},shirts,1.00,1,{{}}\n" for n in range(12_000))
    path.write_bytes((HEADER + good).encode() + b"SK-X,Caf\xe9,shirts,1.00,1,{}\n")

    with pytest.raises(CommandError, match=r"products\.csv: near line \d+: not valid UTF-8"):
        _import(path)
    assert Product.objects.count() == 0


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("SH-2,Bad\x00name,shirts,1.00,1,{}", "name must be 1-200 characters"),
        ("SH\x002,Bad,shirts,1.00,1,{}", "sku must be 1-64 characters without spaces"),
        ('SH-2,Bad,shirts,1.00,1,"{""color"": ""r\x00ed""}"', "details is not valid JSON"),
        ("SH-2,Bad,shirts,1.00\x00,1,{}", "price must be a number"),
        ("SH-2,Bad,shi\x00rts,1.00,1,{}", "unknown category"),
        ("\x00", "fewer fields than the header has columns"),
    ],
    ids=["name", "sku", "details", "price", "category", "alone"],
)
def test_csv_nul_byte_is_refused_by_line_and_nothing_written(tmp_path, shirts, row, reason):
    path = tmp_path / "products.csv"
    path.write_bytes((HEADER + "SH-1,Good,shirts,1.00,1,{}\n" + row + "\n").encode())

    err = _bad_lines(path)

    assert f"line 3: {reason}" in err
    assert Product.objects.count() == 0


def test_jsonl_escaped_nul_in_details_is_refused(tmp_path, shirts):
    path = tmp_path / "products.jsonl"
    path.write_text(_jsonl_row("SH-1", details={"color": "r\x00ed"}) + "\n")

    err = _bad_lines(path)

    assert "line 1: details must not contain NUL characters" in err
    assert Product.objects.count() == 0


def test_csv_field_of_2_mb_is_refused_by_line_and_the_next_line_is_still_read(tmp_path, shirts):
    huge = "x" * 2_000_000
    body = f"SH-1,Good,shirts,1.00,1,{{}}\nSH-2,{huge},shirts,1.00,1,{{}}\nSH-3,Bad,hats,1.00,1,{{}}\n"

    err = _bad_lines(_csv(tmp_path, body))

    assert "line 3: unreadable CSV: field larger than field limit" in err
    assert "line 4: unknown category 'hats'" in err
    assert len(err) < 2_000, "the huge field is not echoed back"
    assert Product.objects.count() == 0


def test_jsonl_line_of_2_mb_is_refused_by_line(tmp_path, shirts):
    path = tmp_path / "products.jsonl"
    path.write_text("\n".join([_jsonl_row("SH-1"), _jsonl_row("SH-2", name="x" * 2_000_000), ""]))

    err = _bad_lines(path)

    assert "line 2: line longer than 1048576 bytes" in err
    assert len(err) < 2_000
    assert Product.objects.count() == 0


def test_duplicate_sku_in_a_jsonl_file_names_the_first_line(tmp_path, shirts):
    path = tmp_path / "products.jsonl"
    path.write_text("\n".join([_jsonl_row("SH-1"), _jsonl_row("SH-2"), _jsonl_row("SH-1", name="Again"), ""]))

    err = _bad_lines(path)

    assert "line 3: duplicate sku 'SH-1' (first on line 1)" in err
    assert Product.objects.count() == 0


def test_jsonl_object_with_wrong_keys_names_them(tmp_path, shirts):
    path = tmp_path / "products.jsonl"
    path.write_text(_jsonl_row("SH-1") + "\n" + json.dumps({"sku": "SH-2", "title": "Shirt"}) + "\n")

    err = _bad_lines(path)

    assert "line 2: missing name, category, price, stock, details; unknown title" in err
    assert Product.objects.count() == 0


# --- Details jsonb cannot store, or Python could not read back ---------------------------------

DEEP = 5_000  # past Python's parser (about 1,000 levels) and far past MAX_DETAILS_DEPTH


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        ('{"weight": NaN}', "NaN is not a JSON number"),
        ('{"weight": Infinity}', "Infinity is not a JSON number"),
        ('{"weight": -Infinity}', "-Infinity is not a JSON number"),
        ('{"weight": 1e400}', "the number 1e400 is out of range of double precision"),
        ('{"weight": -1e400}', "the number -1e400 is out of range of double precision"),
        ('{"weight": 1e-400}', "the number 1e-400 is out of range of double precision"),
        ('{"ean": 9223372036854775808}', "the whole number 9223372036854775808 is out of range"),
        ('{"ean": ' + "9" * 5000 + "}", "a whole number of more than 4,300 digits is out of range"),
        ('{"ean": -' + "9" * 30 + "}", "the whole number -99999999999999999999999... (31 characters)"),
        ('{"color": "\\ud800"}', "details must not contain lone surrogates"),
        ('{"\\udfff": "red"}', "details must not contain lone surrogates"),
        ('{"color\\u0000": "red"}', "details must not contain NUL characters"),
        (_nested(9), "details are nested deeper than 8 levels"),
        ('{"a": [[[[[[[[]]]]]]]]}', "details are nested deeper than 8 levels"),
        (_nested(DEEP), "details are nested deeper than 8 levels"),
    ],
    ids=lambda value: value[:30],
)
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_details_the_database_or_python_cannot_hold_are_a_line_error(tmp_path, shirts, kind, details, reason):
    if kind == "csv":
        path = _csv(tmp_path, "SH-1,Good,shirts,1.00,1,{}\nSH-2,Bad,shirts,1.00,1," + _quoted(details) + "\n")
        bad_line = 3
    else:
        path = tmp_path / "products.jsonl"
        bad = _jsonl_row("SH-2", details="PLACEHOLDER").replace('"PLACEHOLDER"', details)
        path.write_text(_jsonl_row("SH-1") + "\n" + bad + "\n")
        bad_line = 2
    if kind == "jsonl" and details == _nested(DEEP):
        reason = "JSON nested too deeply (details may nest 8 levels)"  # the line is parsed whole

    err = _bad_lines(path)

    assert f"line {bad_line}: {reason}" in err
    assert Product.objects.count() == 0


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_numbers_python_reads_but_postgresql_would_refuse_as_written_are_imported_as_python_read_them(
    tmp_path, shirts, kind
):
    # jsonb takes at most 16,383 digits after the point, and no exponent like 2147483648.
    details = '{"weight": 1.' + "0" * 20_000 + ', "tare": 0e-99999, "none": 0e+2147483648}'
    if kind == "csv":
        path = _csv(tmp_path, "SH-1,Shirt,shirts,0E+2147483648,1," + _quoted(details) + "\n")
    else:
        path = tmp_path / "products.jsonl"
        row = _jsonl_row("SH-1", price="P", details="D").replace('"P"', "0E+2147483648")
        path.write_text(row.replace('"D"', details) + "\n")

    out, _ = _import(path)

    assert "1 created" in out
    product = Product.objects.get(sku="SH-1")
    assert (product.price, product.details) == (Decimal("0.00"), {"weight": 1.0, "tare": 0.0, "none": 0.0})


def test_details_nested_8_levels_with_extreme_numbers_that_fit_are_imported_as_written(tmp_path, shirts):
    details = (
        '{"a": {"b": {"c": {"d": {"e": {"f": {"g": [1, -9223372036854775807, 1.7976931348623157e308, '
        '5e-324, -0.0, "\\ud83d\\ude00"]}}}}}}}'
    )
    path = tmp_path / "products.jsonl"
    path.write_text(_jsonl_row("SH-1", details="PLACEHOLDER").replace('"PLACEHOLDER"', details) + "\n")

    out, _ = _import(path)

    assert "1 created" in out
    leaf = Product.objects.get(sku="SH-1").details["a"]["b"]["c"]["d"]["e"]["f"]["g"]
    # jsonb keeps numbers as decimals: the largest double comes back as the whole number it names.
    assert leaf[2] == 17976931348623157 * 10**292
    assert float(leaf[2]) == 1.7976931348623157e308
    assert leaf[:2] + leaf[3:] == [1, -9223372036854775807, 5e-324, 0.0, "\U0001f600"]


@pytest.mark.parametrize(
    ("field", "token", "reason"),
    [
        ("price", "NaN", "NaN is not a JSON number"),
        ("price", "1e400", "the number 1e400 is out of range"),
        ("stock", "9" * 5000, "a whole number of more than 4,300 digits is out of range"),
        ("stock", "9" * 25, "stock must be a whole number from 0 to 2147483647"),
        ("name", '"\\ud800"', "name must be 1-200 characters"),
        ("sku", '"SH\\udc00"', "sku must be 1-64 characters without spaces"),
        ("name", "[" * DEEP + "]" * DEEP, "JSON nested too deeply"),
    ],
    ids=[
        "price-nan",
        "price-1e400",
        "stock-5000-digits",
        "stock-25-digits",
        "name-surrogate",
        "sku-surrogate",
        "deep-name",
    ],
)
def test_jsonl_values_json_allows_but_the_database_refuses_are_a_line_error(
    tmp_path, shirts, field, token, reason
):
    path = tmp_path / "products.jsonl"
    bad = json.dumps(json.loads(_jsonl_row("SH-2")) | {field: "PLACEHOLDER"}).replace('"PLACEHOLDER"', token)
    path.write_text(_jsonl_row("SH-1") + "\n" + bad + "\n" + _jsonl_row("SH-3") + "\n")

    err = _bad_lines(path)

    assert f"line 2: {reason}" in err
    assert Product.objects.count() == 0


def test_skip_invalid_imports_the_rows_around_details_the_database_cannot_hold(tmp_path, shirts):
    path = tmp_path / "products.jsonl"
    rows = [
        _jsonl_row("SH-1", details={"color": "red"}),
        _jsonl_row("SH-2", details="PLACEHOLDER").replace('"PLACEHOLDER"', '{"weight": 1e400}'),
        _jsonl_row("SH-3", details="PLACEHOLDER").replace('"PLACEHOLDER"', '{"color": "\\ud800"}'),
        _jsonl_row("SH-4", details="PLACEHOLDER").replace('"PLACEHOLDER"', _nested(DEEP)),
        _jsonl_row("SH-5", details={"specs": {"ram_gb": 16}}),
    ]
    path.write_text("\n".join(rows) + "\n")

    out, err = _import(path, "--skip-invalid")

    assert "2 created, 0 updated, 0 unchanged, 3 rejected" in out
    assert [line.split(":")[1].strip() for line in err.splitlines()] == ["line 2", "line 3", "line 4"]
    assert dict(Product.objects.values_list("sku", "details")) == {
        "SH-1": {"color": "red"},
        "SH-5": {"specs": {"ram_gb": 16}},
    }
