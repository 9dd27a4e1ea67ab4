"""Accessibility of `<pasar-live>` as a shopper meets it: axe-core (the npm
devDependency, frontend/node_modules/axe-core) injected into the vendor's page
on another origin and run on the element, shadow root included, in Debian's
Chromium, at a phone's and a desktop's size, while the live show plays: the
default state, the product sheet, the flash-deal sheet and the cart sheet with
a line in it. No "serious" or "critical" violation may remain; every violation
found is printed with its targets.

Colour contrast over the video: axe cannot see a video frame, so for text drawn
over the stage it measures against the nearest painted backgrounds (the dark
shade, the chips' own fills) or reports "incomplete" (needs review), which this
test prints but does not fail on; the overlay's legibility over any picture
comes from those fills and text shadows (styles.ts), not from the video.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_missing
from tests.e2e import test_player as rig
from tests.e2e.conftest import LiveServer

# The player tests' rig: the vendor's page on an allowed origin, the broadcast.
shop = rig.shop
on_air = rig.on_air

AXE = Path(__file__).resolve().parents[2] / "frontend/node_modules/axe-core/axe.min.js"
FAILING = {"serious", "critical"}

RUN_AXE = """async () => {
  // A sheet rises and fades in: measure its colours once it has settled.
  const root = document.querySelector('pasar-live').shadowRoot;
  const settling = root.getAnimations().filter((a) => a.effect.getTiming().iterations !== Infinity);
  await Promise.all(settling.map((a) => a.finished));
  const result = await axe.run(document.querySelector('pasar-live'), {
    resultTypes: ['violations', 'incomplete'],
  });
  const brief = (r) => ({
    id: r.id, impact: r.impact, help: r.help,
    nodes: r.nodes.map((n) => ({
      target: n.target, summary: n.failureSummary, why: [...n.any, ...n.all][0]?.message ?? '',
    })),
  });
  return {violations: result.violations.map(brief), incomplete: result.incomplete.map(brief)};
}"""


def scan(page: Any, state: str) -> list[str]:
    """Run axe on the player; print what it found; return the failing findings."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(RUN_AXE)
    failing: list[str] = []
    for kind in ("violations", "incomplete"):
        for rule in found[kind]:
            for node in rule["nodes"]:
                line = (
                    f"[{state}] {kind[:-1] if kind == 'violations' else kind} {rule['impact']} "
                    f"{rule['id']}: {rule['help']} at {node['target']}"
                )
                print(line if kind == "violations" else f"{line}: {node['why']}")
                if kind == "violations" and rule["impact"] in FAILING:
                    failing.append(f"{line}\n    {node['summary']}")
    return failing


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_player_has_no_serious_accessibility_violations(
    live_server: LiveServer, shop: str, on_air: None, browser: Any, size: str
) -> None:
    if not AXE.exists():
        service_missing("axe-core", f"{AXE} not found (cd frontend && npm ci)")
    # The broadcast may still be connecting: scan the live state, not "scheduled".
    deadline = time.monotonic() + 60
    while rig._doc(live_server)["state"] != "live" and time.monotonic() < deadline:
        time.sleep(0.5)
    viewport = rig.PHONE if size == "phone" else rig.DESKTOP
    page, errors = rig.open_player(browser, live_server, shop, viewport=viewport)
    player = page.locator("pasar-live")
    page.wait_for_function(rig.PLAYING, arg=[1.0], timeout=60_000)
    failing = scan(page, f"{size}, playing")

    player.locator(".product-card .buy").first.click()
    sheet = player.get_by_role("dialog", name="Product details")
    sheet.wait_for()
    failing += scan(page, f"{size}, product sheet")
    sheet.get_by_role("button", name="Add to cart").click()
    player.locator(".cart-button .count", has_text="1").wait_for()  # the sheet closes

    player.locator(".deal-banner").click()
    player.get_by_role("dialog", name="Flash sale").wait_for()
    failing += scan(page, f"{size}, deal sheet")

    player.get_by_role("button", name="Close").click()
    player.get_by_role("button", name="Open cart").click()
    player.locator(".cart-line").first.wait_for()
    failing += scan(page, f"{size}, cart sheet")

    assert not failing, "\n".join(failing)
    assert errors == []
    page.context.close()
