"""Categories declare their facets (CategoryFacet); products are searchable, kept current by the
database; numbers in details have expression indexes for range filters.

The facets were an array of keys on the category: each key becomes a "choice" facet labelled from
the key ("ram_gb" -> "Ram gb"), and back. The search columns are written by triggers only: on a
product's insert or update of its name, category or details, and on a category's rename or a
change of its facets (which rewrite the category's products' name with itself, so that the
product trigger runs). pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may
create it without being a superuser.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.lookups import Exact, IsNull

import catalog.models

# catalog.models.NUMERIC_DETAILS as of this migration: each has its index below.
NUMERIC_DETAILS = (
    "weight_g",
    "ram_gb",
    "storage_gb",
    "screen_in",
    "seats",
    "width_cm",
    "grams",
    "pages",
    "gears",
    "litres",
)

PRODUCT_SEARCH_FIELDS = """
CREATE FUNCTION catalog_product_search_fields() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    category_name text;
    facet_values text;
BEGIN
    SELECT c.name,
           (SELECT string_agg(
                       CASE jsonb_typeof(NEW.details -> f.key)
                           WHEN 'string' THEN NEW.details ->> f.key
                           WHEN 'number' THEN concat_ws(' ', NEW.details ->> f.key, nullif(f.unit, ''))
                       END,
                       ' ' ORDER BY f.position, f.id)
              FROM catalog_categoryfacet f
             WHERE f.category_id = c.id)
      INTO category_name, facet_values
      FROM catalog_category c
     WHERE c.id = NEW.category_id;
    NEW.search_vector :=
        setweight(to_tsvector('english', NEW.name), 'A')
        || setweight(to_tsvector('english', coalesce(category_name, '')), 'B')
        || setweight(to_tsvector('english', coalesce(facet_values, '')), 'C');
    NEW.search_text := NEW.name || ' ' || coalesce(category_name, '');
    RETURN NEW;
END
$$;

CREATE TRIGGER catalog_product_search_fields
    BEFORE INSERT OR UPDATE OF name, category_id, details ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_search_fields();

CREATE FUNCTION catalog_category_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Setting the name fires catalog_product_search_fields on each product of the category.
    UPDATE catalog_product SET name = name WHERE category_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER catalog_category_search_refresh
    AFTER UPDATE OF name ON catalog_category
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION catalog_category_search_refresh();

CREATE FUNCTION catalog_facet_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.key = NEW.key AND OLD.unit = NEW.unit
            AND OLD.category_id = NEW.category_id THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE catalog_product SET name = name WHERE category_id = OLD.category_id;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.category_id <> NEW.category_id) THEN
        UPDATE catalog_product SET name = name WHERE category_id = NEW.category_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER catalog_facet_search_refresh
    AFTER INSERT OR DELETE OR UPDATE OF key, unit, category_id ON catalog_categoryfacet
    FOR EACH ROW EXECUTE FUNCTION catalog_facet_search_refresh();
"""

DROP_PRODUCT_SEARCH_FIELDS = """
DROP TRIGGER IF EXISTS catalog_facet_search_refresh ON catalog_categoryfacet;
DROP FUNCTION IF EXISTS catalog_facet_search_refresh();
DROP TRIGGER IF EXISTS catalog_category_search_refresh ON catalog_category;
DROP FUNCTION IF EXISTS catalog_category_search_refresh();
DROP TRIGGER IF EXISTS catalog_product_search_fields ON catalog_product;
DROP FUNCTION IF EXISTS catalog_product_search_fields();
"""

# What catalog.selectors.search_* read: the ids of the active products whose search vector matches
# the query, or whose name and category are like its words. The word similarity threshold is set
# for the function's run only (a SET clause): a session SET would stay on the pooled server
# connection (PgBouncer, transaction pooling) for whoever gets it next.
PRODUCT_MATCHES = r"""
CREATE FUNCTION catalog_search_tsquery(query text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- websearch_to_tsquery's query with every word a prefix ('headph':* finds headphones), or NULL
    -- for a query with nothing to look up in the index (only stop words, or only negations such
    -- as "-laptop", which every other product matches): such a query matches nothing.
    SELECT CASE WHEN querytree(q) IN ('', 'T') THEN NULL ELSE q END
      FROM CAST(regexp_replace(websearch_to_tsquery('english', query)::text,
                               '(''(?:[^'']|'''')*'')', '\1:*', 'g') AS tsquery) AS q
$$;

-- The active products a search matches, with the columns the search's summary counts by, and
-- whether they matched by full text (exact) or by similarity: the full-text matches; when there
-- are none, the products whose name and category are like the words, as a whole (what the
-- trigram index finds) and each word ("black laptps" is not like a black shirt). The trigram
-- index is read only when the full-text matches, found first, are none.
CREATE FUNCTION catalog_product_matches(query text, words text)
    RETURNS TABLE (id bigint, category_id bigint, price numeric, is_active boolean, details jsonb, exact boolean)
    LANGUAGE sql STABLE ROWS 100
    SET pg_trgm.word_similarity_threshold = 0.3
AS $$
    WITH exact AS MATERIALIZED (
        SELECT p.id, p.category_id, p.price, p.is_active, p.details
          FROM catalog_product AS p
         WHERE p.is_active AND p.search_vector @@ catalog_search_tsquery($1)
    )
    SELECT exact.*, true FROM exact
    UNION ALL
    SELECT p.id, p.category_id, p.price, p.is_active, p.details, false
      FROM catalog_product AS p
     WHERE p.is_active
       AND $2 <% p.search_text
       AND NOT EXISTS (SELECT FROM unnest(string_to_array($2, ' ')) AS word WHERE NOT word <% p.search_text)
       AND NOT EXISTS (SELECT FROM exact)
$$;
"""

DROP_PRODUCT_MATCHES = """
DROP FUNCTION IF EXISTS catalog_product_matches(text, text);
DROP FUNCTION IF EXISTS catalog_search_tsquery(text);
"""


def _detail_number(key: str) -> models.Case:
    """catalog.models.detail_number as of this migration."""
    is_number = Exact(
        models.Func(KeyTransform(key, "details"), function="jsonb_typeof", output_field=models.TextField()),
        "number",
    )
    return models.Case(
        models.When(is_number, then=catalog.models.ToNumeric(KeyTextTransform(key, "details"))),
        output_field=models.DecimalField(),
    )


def facets_from_keys(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    CategoryFacet = apps.get_model("catalog", "CategoryFacet")
    CategoryFacet.objects.bulk_create(
        CategoryFacet(category=category, key=key, label=key.replace("_", " ").capitalize(), position=n)
        for category in Category.objects.only("id", "facet_keys")
        for n, key in enumerate(dict.fromkeys(category.facet_keys))
    )


def keys_from_facets(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    CategoryFacet = apps.get_model("catalog", "CategoryFacet")
    keys: dict[int, list[str]] = {}
    for category_id, key in CategoryFacet.objects.order_by("position", "id").values_list(
        "category_id", "key"
    ):
        keys.setdefault(category_id, []).append(key)
    for category in Category.objects.only("id"):
        category.facet_keys = keys.get(category.id, [])
        category.save(update_fields=["facet_keys"])


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_product_picture")]

    operations = [
        TrigramExtension(),
        # --- Facets: from an array of keys on the category to a row each ---------------------
        migrations.RenameField("category", "facets", "facet_keys"),
        migrations.CreateModel(
            name="CategoryFacet",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.CharField(
                        help_text="The key in the products' details, e.g. ram_gb.", max_length=40
                    ),
                ),
                ("label", models.CharField(help_text="What customers read, e.g. RAM.", max_length=60)),
                (
                    "unit",
                    models.CharField(blank=True, help_text="Shown after numbers, e.g. GB.", max_length=20),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("choice", "Choice (checkboxes of the values)"),
                            ("range", "Range (numbers, from and to)"),
                        ],
                        default="choice",
                        max_length=10,
                    ),
                ),
                ("position", models.PositiveSmallIntegerField(default=0)),
                (
                    "category",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="facets",
                        to="catalog.category",
                    ),
                ),
            ],
            options={
                "ordering": ["position", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("category", "key"), name="categoryfacet_one_per_key"),
                    models.CheckConstraint(
                        condition=models.Q(("key__regex", "^[A-Za-z0-9_]+$")),
                        name="categoryfacet_key_is_plain",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["choice", "range"])),
                        name="categoryfacet_kind_is_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("kind", "range"), _negated=True),
                            ("key__in", NUMERIC_DETAILS),
                            _connector="OR",
                        ),
                        name="categoryfacet_range_is_indexed",
                    ),
                ],
            },
        ),
        migrations.RunPython(facets_from_keys, keys_from_facets),
        migrations.RemoveField("category", "facet_keys"),
        # --- Search: columns the triggers write, their indexes, the matching function -------
        migrations.AddField(
            model_name="product",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="product",
            name="search_text",
            field=models.TextField(db_default="", editable=False),
        ),
        migrations.RunSQL(PRODUCT_SEARCH_FIELDS, DROP_PRODUCT_SEARCH_FIELDS),
        # Every product's search columns, once: the trigger writes them.
        migrations.RunSQL("UPDATE catalog_product SET name = name", migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="product",
            index=django.contrib.postgres.indexes.GinIndex(
                condition=models.Q(("is_active", True)),
                fields=["search_vector"],
                name="product_search_vector",
            ),
        ),
        migrations.AddIndex(
            model_name="product",
            index=django.contrib.postgres.indexes.GinIndex(
                condition=models.Q(("is_active", True)),
                fields=["search_text"],
                name="product_search_text_trgm",
                opclasses=["gin_trgm_ops"],
            ),
        ),
        *(
            migrations.AddIndex(
                model_name="product",
                index=models.Index(
                    models.F("category"),
                    _detail_number(key),
                    condition=models.Q(("is_active", True), IsNull(_detail_number(key), False)),
                    name=f"product_{key}_range",
                ),
            )
            for key in NUMERIC_DETAILS
        ),
        migrations.RunSQL(PRODUCT_MATCHES, DROP_PRODUCT_MATCHES),
    ]
