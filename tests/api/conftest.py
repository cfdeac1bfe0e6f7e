"""API clients holding a token of each role."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from hacontrol.ha.models import ApiToken


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user, 'tests')[1]}")
    return client


@pytest.fixture
def admin_api(admin) -> APIClient:
    return token_client(admin)


@pytest.fixture
def viewer_api(viewer) -> APIClient:
    return token_client(viewer)


@pytest.fixture
def anonymous_api() -> APIClient:
    return APIClient()
