"""HEAD answers like GET on every storefront URL, for every kind of visitor: uptime monitors and
link checkers send HEAD. The URLs are tests/test_access_matrix.py's, so a new page is covered."""

import pytest
from django.conf import settings
from zeal import zeal_ignore

from tests.test_access_matrix import ROLES, SHOP, TWO_USERS_ARE_NO_N_PLUS_ONE, outcome, world  # noqa: F401

pytestmark = pytest.mark.django_db(databases=["default", *settings.REPLICA_ALIASES])


@pytest.mark.parametrize("role", ROLES)
def test_head_answers_every_storefront_url_as_get_does_without_a_body(world, role):  # noqa: F811
    client = world.clients[role]

    wrong = []
    for name, (build, _) in SHOP.items():
        url = build(world)
        with zeal_ignore(TWO_USERS_ARE_NO_N_PLUS_ONE):
            head, get = client.head(url), client.get(url)
        if outcome(head, world) != outcome(get, world) or head.content:
            wrong.append(
                f"{name} {url}: GET {outcome(get, world)}, HEAD {outcome(head, world)} {head.content[:40]!r}"
            )

    assert not wrong, f"{role}:\n" + "\n".join(wrong)


def test_head_of_a_page_that_answers_get_is_not_405(client):
    response = client.head("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
