"""The /play client in a real browser: headless Debian Chromium driven by Playwright against a
real server (tests/e2e/conftest.py: uvicorn with the embedded world).

A player signs in through the portal form, opens /play, walks with the keyboard, and a second
player sees the movement. The page exposes its state as data-* attributes on #play and as
``window.__mmo`` (static/play/main.js). Screenshots land in var/screenshots/.

Needs /usr/bin/chromium (``apt-get install chromium``) and the ``playwright`` Python package;
never ``playwright install``: the browser is Debian's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from characters.models import Character
from tests.characters.factories import CharacterFactory, RealmFactory, ShardFactory
from tests.e2e.conftest import LiveWorld
from tests.factories import DEFAULT_PASSWORD, UserFactory
from worlds.content import get_zone_maps
from worlds.models import Shard

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.slow,
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORT = {"width": 1280, "height": 760}
ALICE_COLOUR, EMBER = "ember", "#b5523b"  # looked for in the canvas pixels around the player


@pytest.fixture(autouse=True)
def _chromium_available() -> None:
    if not CHROMIUM.exists():
        reason = f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("MMO_REQUIRE_BROWSER") == "1":  # CI: a missing browser is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium via Playwright. Request it only after the test's database rows exist: inside the
    Playwright context the main thread runs an event loop, where Django refuses ORM calls."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def live_world_settings() -> dict[str, object]:
    """The production reconnect grace (30 s): a page reload on a busy machine may take longer
    than the 3 s the end-to-end tests use, and the reload test is about resuming."""
    return {
        "WORLD_FLUSH_INTERVAL_SECONDS": 1.0,
        "WORLD_RECONNECT_GRACE_SECONDS": 30.0,
        "LOGIN_QUEUE_POLL_SECONDS": 1,
    }


@pytest.fixture
def shard_capacity() -> int:
    return 50


@pytest.fixture
def town(shard_capacity: int) -> tuple[float, float]:
    """A realm with a shard, created before the server starts (it hosts the shards it finds)."""
    ShardFactory(realm=RealmFactory(slug="play"), name="play-1", capacity=shard_capacity)
    spawn = get_zone_maps()["town"].spawn_points["default"]
    return spawn.x, spawn.y


def start(request: pytest.FixtureRequest) -> tuple[LiveWorld, Any]:
    """The server, then the browser (see ``browser``); both stop in reverse order."""
    world: LiveWorld = request.getfixturevalue("live_world")
    return world, request.getfixturevalue("browser")


def make_player(name: str, x: float, y: float, *, color: str = "moss") -> Character:
    user = UserFactory(username=name.lower())
    return CharacterFactory(  # type: ignore[return-value]
        account=user,
        realm=RealmFactory(slug="play"),
        name=name,
        class_id="warrior",
        appearance={"body": 1, "hair": 2, "color": color},
        zone="town",
        x=x,
        y=y,
    )


class PlayPage:
    """One player's browser tab on /play."""

    def __init__(self, browser: Any, world: LiveWorld) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.world = world
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on(
            "console",
            lambda message: (
                self.problems.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )

    def sign_in(self, username: str) -> None:
        self.page.goto(f"{self.world.base_url}/accounts/login/")
        self.page.fill("input[name=login]", username)
        self.page.fill("input[name=password]", DEFAULT_PASSWORD)
        with self.page.expect_navigation():
            self.page.click("form[action='/accounts/login/'] button[type=submit]")
        assert "/accounts/login/" not in self.page.url, "login failed"

    def play(self, character: Character) -> None:
        self.page.goto(f"{self.world.base_url}/play?character={character.pk}")
        self.wait_connected()

    def wait_connected(self) -> None:
        self.page.wait_for_selector("#play[data-state='connected'][data-x]", timeout=20_000)

    def state(self, expression: str) -> Any:
        return self.page.evaluate(f"window.__mmo.{expression}")

    def position(self) -> tuple[float, float]:
        """Our predicted position, once the HUD (refreshed at 10 Hz) shows the same."""
        self_state = self.state("self")
        x, y = float(self_state["x"]), float(self_state["y"])
        root = self.page.locator("#play")
        expected = (f"{x:.2f}", f"{y:.2f}")
        wait_until(
            self,
            lambda: (root.get_attribute("data-x"), root.get_attribute("data-y")) == expected,
            f"the HUD to show {expected}",
        )
        return x, y

    def seen(self, name: str) -> dict[str, Any] | None:
        for entity in self.state("entities()"):
            if entity["name"] == name:
                return entity
        return None

    def hold(self, key: str, seconds: float) -> None:
        self.page.locator("canvas[data-play-canvas]").focus()
        self.page.keyboard.down(key)
        self.page.wait_for_timeout(seconds * 1000)
        self.page.keyboard.up(key)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.context.close()


def wait_until(
    tab: PlayPage, predicate: Callable[[], bool], what: str, timeout: float = 10
) -> None:
    """Poll while the page keeps running (Playwright's sync API needs its loop to be driven)."""
    waited_ms = 0
    while not predicate():
        if waited_ms > timeout * 1000:
            raise AssertionError(f"timed out waiting for {what}")
        tab.page.wait_for_timeout(50)
        waited_ms += 50


# The player's tunic colour around the predicted position on the canvas: proof that the picture
# shows the player, not only that the numbers are right.
COUNT_PLAYER_PIXELS = """
([colour]) => {
  const canvas = document.querySelector("canvas[data-play-canvas]");
  const view = window.__mmo.view;
  const self = window.__mmo.self;
  const x = Math.round(view.originX + self.x * view.unit);
  const feet = Math.round(view.originY + (self.y + 0.3) * view.unit);
  const half = Math.round(view.unit * 0.6);
  const box = canvas.getContext("2d").getImageData(x - half, feet - 2 * half, 2 * half, 2 * half);
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  let count = 0;
  for (let i = 0; i < box.data.length; i += 4) {
    const red = Math.abs(box.data[i] - r);
    const green = Math.abs(box.data[i + 1] - g);
    const blue = Math.abs(box.data[i + 2] - b);
    if (red + green + blue < 24) count += 1;
  }
  return count;
}
"""


def test_player_signs_in_walks_and_is_seen_by_another_player(
    request: pytest.FixtureRequest, town: tuple[float, float]
) -> None:
    # given: Alice and Bob near the town spawn; Bob is already in the world, watching
    spawn_x, spawn_y = town
    alice = make_player("Alice", spawn_x, spawn_y, color=ALICE_COLOUR)
    bob = make_player("Bob", spawn_x, spawn_y + 2.0)
    world, browser = start(request)
    watcher = PlayPage(browser, world)
    watcher.sign_in("bob")
    watcher.play(bob)

    # when: Alice signs in through the portal form, enters the world and holds the right arrow
    player = PlayPage(browser, world)
    player.sign_in("alice")
    player.play(alice)
    assert player.page.locator("#play").get_attribute("data-zone") == "town"
    start_x, start_y = player.position()
    assert (start_x, start_y) == pytest.approx((spawn_x, spawn_y), abs=0.01)
    wait_until(watcher, lambda: watcher.seen("Alice") is not None, "Bob to see Alice")
    player.hold("ArrowRight", 1.2)

    # then: she moved east along the plaza, every move was accepted and acknowledged ...
    wait_until(player, lambda: player.state("stats").get("pending") == 0, "moves acknowledged")
    end_x, end_y = player.position()
    assert end_x > start_x + 2.0, (start_x, end_x)
    assert end_y == pytest.approx(start_y, abs=0.01)
    stats = player.state("stats")
    assert stats["moves"] >= 5
    assert stats["corrections"] == 0, stats
    position_text = player.page.locator("[data-hud='position']").inner_text()
    assert position_text == f"{end_x:.1f}, {end_y:.1f}"

    # ... Bob's client saw her walk there (the server's position, and his drawn one) ...
    def bob_sees_alice_at_the_end() -> bool:
        seen = watcher.seen("Alice")
        return seen is not None and abs(seen["x"] - end_x) < 0.01

    wait_until(watcher, bob_sees_alice_at_the_end, "Bob to see Alice's new position")
    seen = watcher.seen("Alice")
    assert seen is not None
    assert (seen["serverX"], seen["serverY"]) == pytest.approx((end_x, end_y), abs=0.01)

    # ... the HUD shows a measured ping, and the picture shows her
    root = player.page.locator("#play")
    wait_until(player, lambda: root.get_attribute("data-ping") is not None, "a measured ping")
    assert 0 <= int(root.get_attribute("data-ping") or "-1") < 2000
    assert player.state("stats")["frames"] > 30  # the canvas is being animated
    assert player.page.evaluate(COUNT_PLAYER_PIXELS, [EMBER]) > 20
    player.page.wait_for_timeout(300)
    player.screenshot("play.png")
    watcher.screenshot("play-observer.png")
    assert player.problems == [] and watcher.problems == []
    player.close()
    watcher.close()


def test_chat_reaches_the_other_player(
    request: pytest.FixtureRequest, town: tuple[float, float]
) -> None:
    spawn_x, spawn_y = town
    alice = make_player("Alice", spawn_x, spawn_y)
    bob = make_player("Bob", spawn_x + 2.0, spawn_y)
    world, browser = start(request)
    player, watcher = PlayPage(browser, world), PlayPage(browser, world)
    for page, name, character in ((player, "alice", alice), (watcher, "bob", bob)):
        page.sign_in(name)
        page.play(character)
    wait_until(watcher, lambda: watcher.seen("Alice") is not None, "Bob to see Alice")

    # when
    player.page.keyboard.press("Enter")
    player.page.keyboard.type("<b>hello</b> Bob")
    player.page.keyboard.press("Enter")

    # then: shown as text (never as HTML) in both chat logs
    log = watcher.page.locator("[data-hud='chat-log']")
    log.get_by_text("<b>hello</b> Bob").wait_for(timeout=10_000)
    assert log.locator("b").count() == 0
    assert "Alice" in log.inner_text()
    player.page.locator("[data-hud='chat-log']").get_by_text("<b>hello</b> Bob").wait_for()
    assert player.problems == [] and watcher.problems == []
    player.close()
    watcher.close()


def test_reloaded_page_resumes_the_same_character_and_walks_without_corrections(
    request: pytest.FixtureRequest, town: tuple[float, float]
) -> None:
    # given: Alice walked a little, then reloads the page within the reconnect grace
    spawn_x, spawn_y = town
    alice = make_player("Alice", spawn_x, spawn_y)
    world, browser = start(request)
    player = PlayPage(browser, world)
    player.sign_in("alice")
    player.play(alice)
    first_id = player.state("self").get("id")
    player.hold("ArrowDown", 0.4)
    wait_until(player, lambda: player.state("stats").get("pending") == 0, "moves acknowledged")
    before_reload = player.position()

    # when
    player.page.reload()
    player.wait_connected()
    player.hold("ArrowRight", 0.6)

    # then: same entity, resumed where it stood, and the new page's moves are accepted
    assert player.state("self").get("id") == first_id
    wait_until(player, lambda: player.state("stats").get("pending") == 0, "moves acknowledged")
    stats = player.state("stats")
    assert stats["moves"] >= 5
    assert stats["corrections"] == 0, json.dumps(stats)
    x, y = player.position()
    assert y == pytest.approx(before_reload[1], abs=0.01)
    assert x > before_reload[0] + 1.0
    player.close()


def test_second_window_takes_over_and_the_first_says_so(
    request: pytest.FixtureRequest, town: tuple[float, float]
) -> None:
    spawn_x, spawn_y = town
    alice = make_player("Alice", spawn_x, spawn_y)
    world, browser = start(request)
    first = PlayPage(browser, world)
    first.sign_in("alice")
    first.play(alice)

    # when: the same account enters with the same character in another browser
    second = PlayPage(browser, world)
    second.sign_in("alice")
    second.play(alice)

    # then
    first.page.wait_for_selector("#play[data-state='taken_over']", timeout=10_000)
    overlay = first.page.locator("[data-hud='overlay']")
    assert overlay.is_visible()
    assert "Signed in elsewhere" in overlay.inner_text()
    first.screenshot("play-taken-over.png")
    assert second.page.locator("#play").get_attribute("data-state") == "connected"
    first.close()
    second.close()


def in_another_thread(write: Callable[[], object]) -> None:
    """Run an ORM write while Playwright's loop owns the main thread (Django refuses it there)."""
    from django.db import connection

    def run() -> None:
        try:
            write()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result(timeout=30)


@pytest.mark.parametrize("shard_capacity", [1])
def test_full_realm_shows_the_queue_place_and_enters_when_admitted(
    request: pytest.FixtureRequest, town: tuple[float, float]
) -> None:
    # given: the only slot is Bob's
    spawn_x, spawn_y = town
    alice = make_player("Alice", spawn_x, spawn_y)
    bob = make_player("Bob", spawn_x + 2.0, spawn_y)
    world, browser = start(request)
    watcher = PlayPage(browser, world)
    watcher.sign_in("bob")
    watcher.play(bob)

    # when: Alice tries to enter
    player = PlayPage(browser, world)
    player.sign_in("alice")
    player.page.goto(f"{world.base_url}/play?character={alice.pk}")

    # then: she waits in line, told her place ...
    player.page.wait_for_selector("#play[data-state='queued']", timeout=20_000)
    overlay = player.page.locator("[data-hud='overlay']")
    assert "The realm is full" in overlay.inner_text()
    assert "number 1 in line" in overlay.inner_text()

    # ... and enters by herself once a slot frees up (the page keeps polling)
    in_another_thread(lambda: Shard.objects.filter(name="play-1").update(capacity=2))
    player.wait_connected()
    assert not overlay.is_visible()
    wait_until(watcher, lambda: watcher.seen("Alice") is not None, "Bob to see Alice")
    assert player.problems == [] and watcher.problems == []
    player.close()
    watcher.close()
