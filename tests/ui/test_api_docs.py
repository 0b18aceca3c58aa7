"""/api-docs renders Swagger UI from the gateway's own files under the strict CSP."""

from __future__ import annotations

from playwright.async_api import expect

from paywire.api import create_app
from tests.fixtures.browser import TIMEOUT_MS, Console


async def test_swagger_ui_shows_the_operations_offline(browser, serve, settings, db_pool) -> None:
    client = await serve(create_app(settings, db_pool))
    context = await browser.new_context()
    origin = str(client.make_url("/")).rstrip("/")
    outside: list[str] = []

    async def only_the_gateway(route) -> None:
        if route.request.url.startswith(origin):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_the_gateway)
    page = await context.new_page()
    console = Console(page)
    await page.goto(f"{origin}/api-docs")
    operations = page.locator(".opblock-summary-path")
    await expect(operations.first).to_be_visible(timeout=TIMEOUT_MS)
    paths = await operations.all_text_contents()
    assert any("/api/v1/payments/{id}/approve" in p for p in paths)
    await context.close()
    assert outside == []
    assert console.errors == []
