"""The Allow header of a 405, from a service's documented paths."""

from __future__ import annotations

from typing import Any

from aftercare_shared.allowed_methods import allowed_methods, documented_resources

PATHS: dict[str, dict[str, Any]] = {
    "/v1/endpoints": {"get": {}, "post": {}},
    "/v1/endpoints/{endpoint_id}": {"get": {}, "patch": {}, "delete": {}, "parameters": []},
    "/v1/endpoints/{endpoint_id}/deliveries": {"get": {}},
    "/files/{file_path:path}": {"put": {}},
}
RESOURCES = documented_resources(PATHS)


def test_every_documented_method_of_the_path_is_named_with_head_beside_get() -> None:
    assert allowed_methods(RESOURCES, "/v1/endpoints", ["POST"]) == "GET, HEAD, POST"
    assert allowed_methods(RESOURCES, "/v1/endpoints/e-1", ["GET"]) == "DELETE, GET, HEAD, PATCH"


def test_a_parameter_is_one_segment_unless_it_is_a_path_convertor() -> None:
    assert allowed_methods(RESOURCES, "/v1/endpoints/e-1/deliveries", []) == "GET, HEAD"
    assert allowed_methods(RESOURCES, "/v1/endpoints/a/b", []) == ""
    assert allowed_methods(RESOURCES, "/files/a/b/c.txt", []) == "PUT"


def test_a_path_the_document_leaves_out_keeps_what_starlette_named() -> None:
    assert allowed_methods(RESOURCES, "/metrics", [" GET", " HEAD"]) == "GET, HEAD"
