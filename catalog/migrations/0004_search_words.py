"""Typos are corrected against the shop's own words, not compared with every product.

The search's similarity branch compared the words typed with the name and category of every
active product (a trigram index, then a recheck of each candidate): at 100,000 products a typo
took a second. Now the words of the catalog (name, category, facet values; four letters or more)
are kept in a table of their own, a few hundred rows, by triggers: once per statement for the
products it adds, and by the trigger that writes the search vector when a product's lexemes
change; a typed word is matched to its nearest words there (fuzzystrmatch's edit distance, an
adjacent swap counted as one edit), and the products are found by full text with those words,
through the same GIN index as an exact search. Words are only added: a word no product has any
more finds nothing. pg_trgm's index on search_text goes, and the column with it.

fuzzystrmatch is a trusted extension (PostgreSQL 13+), as pg_trgm is.
"""

from django.contrib.postgres.operations import CreateExtension
from django.db import migrations, models

# Adding the catalog's words: the new words of some texts (four letters or more, with their
# lexeme; a stop word has none and is left out), in one order (a writer adding a word another
# transaction is adding waits for it to end); and the words of the products a statement added,
# once for the statement (a batch of an import shares most of its words): their names, their
# categories' names, the string values of their categories' facets and those facets' units.
SEARCH_WORDS_ADD = r"""
CREATE FUNCTION catalog_search_words_add(texts text[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO catalog_searchword (word, lexeme)
    SELECT new_word.word, lexeme.lexeme
      FROM (SELECT DISTINCT typed.word
              FROM unnest(texts) AS given(text),
                   regexp_split_to_table(lower(given.text), '[^[:alpha:]]+') AS typed(word)
             WHERE length(typed.word) >= 4
               AND NOT EXISTS (SELECT FROM catalog_searchword AS known WHERE known.word = typed.word)
           ) AS new_word
     CROSS JOIN LATERAL unnest(to_tsvector('english', new_word.word)) AS lexeme
     ORDER BY new_word.word
        ON CONFLICT DO NOTHING
$$;

CREATE FUNCTION catalog_search_words_of_added_products() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM catalog_search_words_add(ARRAY(
        SELECT p.name FROM added_products AS p
         UNION
        SELECT c.name FROM catalog_category AS c WHERE c.id IN (SELECT category_id FROM added_products)
         UNION
        SELECT p.details ->> f.key
          FROM added_products AS p JOIN catalog_categoryfacet AS f ON f.category_id = p.category_id
         WHERE jsonb_typeof(p.details -> f.key) = 'string'
         UNION
        SELECT f.unit FROM catalog_categoryfacet AS f WHERE f.category_id IN (SELECT category_id FROM added_products)
    ));
    RETURN NULL;
END
$$;

CREATE TRIGGER catalog_search_words_of_added_products
    AFTER INSERT ON catalog_product REFERENCING NEW TABLE AS added_products
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_search_words_of_added_products();
"""

DROP_SEARCH_WORDS_ADD = """
DROP TRIGGER IF EXISTS catalog_search_words_of_added_products ON catalog_product;
DROP FUNCTION IF EXISTS catalog_search_words_of_added_products();
DROP FUNCTION IF EXISTS catalog_search_words_add(text[]);
"""

# The product's search fields, now adding the product's new words to catalog_searchword.
PRODUCT_SEARCH_FIELDS = r"""
CREATE OR REPLACE FUNCTION catalog_product_search_fields() RETURNS trigger LANGUAGE plpgsql AS $$
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
    -- A product's words when its lexemes change (a rewrite that changes none, as an import of
    -- unchanged products, brings no new word); an added product's: once for its whole statement.
    IF TG_OP = 'UPDATE' AND NEW.search_vector IS DISTINCT FROM OLD.search_vector THEN
        PERFORM catalog_search_words_add(ARRAY[NEW.name, category_name, facet_values]);
    END IF;
    RETURN NEW;
END
$$;
"""

# As migration 0003 wrote it.
OLD_PRODUCT_SEARCH_FIELDS = """
CREATE OR REPLACE FUNCTION catalog_product_search_fields() RETURNS trigger LANGUAGE plpgsql AS $$
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
UPDATE catalog_product SET name = name;
"""

# The words of the products there are, as if they were all added at once.
FILL_SEARCH_WORDS = r"""
SELECT catalog_search_words_add(ARRAY(
    SELECT p.name FROM catalog_product AS p
     UNION
    SELECT c.name FROM catalog_category AS c
     UNION
    SELECT p.details ->> f.key
      FROM catalog_product AS p JOIN catalog_categoryfacet AS f ON f.category_id = p.category_id
     WHERE jsonb_typeof(p.details -> f.key) = 'string'
     UNION
    SELECT f.unit FROM catalog_categoryfacet AS f
));
"""

PRODUCT_MATCHES = r"""
-- The letters of a word in order: two words with the same letters differ by a swap or more.
CREATE FUNCTION catalog_search_letters(word text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT string_agg(letter, '' ORDER BY letter) FROM regexp_split_to_table(word, '') AS letter
$$;

-- The words typed, as a tsquery of the shop's words: each word as typed (a prefix, as the
-- full-text search has it) or the catalog's words nearest it, all words required. Nearest: the
-- fewest edits (fuzzystrmatch's Levenshtein distance, at most 2, or 3 for a word of 8 letters or
-- more), two letters swapped counting as one; of those, words with the typed word's letters
-- first. Words under four letters and stop words are taken as typed (or left out). NULL when
-- nothing is left to look up.
CREATE FUNCTION catalog_search_like_words(words text) RETURNS tsquery
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT string_agg('(' || each_word.alternatives || ')', ' & ')::tsquery
      FROM unnest(string_to_array(lower(words), ' ')) AS typed(word)
     CROSS JOIN LATERAL (
        SELECT string_agg(alternative, ' | ') AS alternatives
          FROM (
            SELECT catalog_search_tsquery(typed.word)::text
             UNION
            SELECT quote_literal(nearest.lexeme)
              FROM (SELECT near.lexeme,
                           rank() OVER (ORDER BY near.edits - near.swap, near.swap DESC) AS place
                      FROM (SELECT candidate.lexeme, candidate.edits,
                                   (candidate.edits = 2 AND catalog_search_letters(candidate.word)
                                        = catalog_search_letters(typed.word))::int AS swap
                              FROM (SELECT known.word, known.lexeme,
                                           levenshtein_less_equal(typed.word, known.word, bound.edits) AS edits,
                                           bound.edits AS most
                                      FROM catalog_searchword AS known,
                                           (SELECT CASE WHEN length(typed.word) >= 8 THEN 3 ELSE 2 END) AS bound(edits)
                                     WHERE length(typed.word) >= 4
                                       AND length(known.word) BETWEEN length(typed.word) - bound.edits
                                                                  AND length(typed.word) + bound.edits
                                   ) AS candidate
                             WHERE candidate.edits <= candidate.most
                           ) AS near
                   ) AS nearest
             WHERE nearest.place = 1
          ) AS alternatives(alternative)
         WHERE alternative IS NOT NULL
     ) AS each_word
     WHERE each_word.alternatives IS NOT NULL
$$;

-- The active products a search matches, and whether by full text (exact) or by the words
-- nearest those typed (a typo): those are looked up only when the full text matches none.
CREATE OR REPLACE FUNCTION catalog_product_matches(query text, words text)
    RETURNS TABLE (id bigint, category_id bigint, price numeric, is_active boolean, details jsonb, exact boolean)
    LANGUAGE sql STABLE ROWS 100
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
       AND p.search_vector @@ (SELECT catalog_search_like_words($2) WHERE NOT EXISTS (SELECT FROM exact))
$$;
"""

OLD_PRODUCT_MATCHES = r"""
DROP FUNCTION catalog_product_matches(text, text);
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
DROP FUNCTION catalog_search_like_words(text);
DROP FUNCTION catalog_search_letters(text);
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_facets_and_search")]

    operations = [
        CreateExtension("fuzzystrmatch"),
        migrations.CreateModel(
            name="SearchWord",
            fields=[
                ("word", models.TextField(primary_key=True, serialize=False)),
                ("lexeme", models.TextField()),
            ],
        ),
        migrations.RunSQL(SEARCH_WORDS_ADD, DROP_SEARCH_WORDS_ADD),
        migrations.RunSQL(PRODUCT_SEARCH_FIELDS, OLD_PRODUCT_SEARCH_FIELDS),
        migrations.RunSQL(FILL_SEARCH_WORDS, migrations.RunSQL.noop),
        migrations.RunSQL(PRODUCT_MATCHES, OLD_PRODUCT_MATCHES),
        migrations.RemoveIndex(model_name="product", name="product_search_text_trgm"),
        migrations.RemoveField(model_name="product", name="search_text"),
    ]
