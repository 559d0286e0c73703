"""A donation's receipt for its donor: the QR code and the printable page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response
from fastapi.responses import HTMLResponse

from api import receipts
from api.errors import ForbiddenError
from api.keys import Principal
from api.routes.deps import ERRORS, NO_STORE, Authenticated, ServicesDep
from api.routes.guarded import resource_router
from api.services import Services

router = resource_router(tag="receipts", responses=ERRORS)


def _receipt_target(donation_id: str, services: Services, principal: Principal) -> str:
    if principal.role != "platform":
        raise ForbiddenError("receipts carry the donor's secret: the platform fetches them")
    return services.receipt_url(donation_id, services.receipt_secret(donation_id))


def _add_qr_code_route(
    suffix: str, media_type: str, draw: Callable[[str], bytes], doc: str
) -> None:
    """``GET /donations/{donation_id}/receipt.{suffix}``: the QR code ``draw`` makes."""

    def qr_code(donation_id: str, services: ServicesDep, principal: Authenticated) -> Response:
        url = _receipt_target(donation_id, services, principal)
        return Response(draw(url), media_type=media_type, headers=NO_STORE)

    qr_code.__doc__ = doc  # the route's OpenAPI description
    router.add_api_route(
        f"/donations/{{donation_id}}/receipt.{suffix}",
        qr_code,
        methods=["GET"],
        name=f"receipt_{suffix}",  # its OpenAPI operation id and summary
        responses={200: {"content": {media_type: {}}}},
        response_class=Response,
    )


_add_qr_code_route(
    "png",
    "image/png",
    receipts.qr_png,
    "The receipt QR code as PNG (platform: it holds the receipt secret).",
)
_add_qr_code_route(
    "svg", "image/svg+xml", receipts.qr_svg, "The receipt QR code as SVG (platform)."
)


@router.get("/donations/{donation_id}/receipt", response_class=HTMLResponse)
def receipt_page(
    donation_id: str, services: ServicesDep, principal: Authenticated, response: Response
) -> str:
    """A printable receipt page with the QR code (platform)."""
    url = _receipt_target(donation_id, services, principal)
    response.headers.update(NO_STORE)
    return receipts.receipt_page(services.views.donation_view(donation_id), url)
