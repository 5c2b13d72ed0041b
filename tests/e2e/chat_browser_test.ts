// The chat example in headless Chromium (Debian's, driven by
// playwright-core): two pages join the room served by serve() on Deno and
// exchange messages over WebSocket; each sees the other's words.
import assert from "node:assert/strict";
import {
  type Browser,
  haveChromium,
  launchChromium,
} from "../_util/browser.ts";
import { serve } from "../../mod.ts";
import { chatApp, chatPage } from "../../examples/chat.ts";

const root = new URL("../../", import.meta.url).pathname;
// Without Chromium the test is skipped, except where CI requires it
// (scripts/ci/10_deno_test.sh sets TSGI_REQUIRE_ALL=1).
const required = Deno.env.get("TSGI_REQUIRE_ALL") === "1";

// playwright-core's slice used here, typed by hand (see browser_test.ts).
interface Page {
  goto(url: string): Promise<{ status(): number } | null>;
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  waitForSelector(selector: string): Promise<unknown>;
  waitForFunction(fn: string): Promise<unknown>;
  textContent(selector: string): Promise<string | null>;
  title(): Promise<string>;
  setDefaultTimeout(ms: number): void;
}

/** Waits until the page's message list has an item with exactly `text`. */
async function seen(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    `[...document.querySelectorAll("#messages li")].some((li) => li.textContent === ${
      JSON.stringify(text)
    })`,
  );
}

Deno.test({
  name: "browser: two Chromium pages chat through examples/chat.ts",
  ignore: !haveChromium && !required,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const errors: string[] = [];
    const server = await serve(chatApp(await chatPage()), {
      port: 0,
      onListen() {},
      accessLog: false,
      errors: (text) => errors.push(text),
    });
    // The page served is examples/chat.html as it is.
    const served = await (await fetch(server.url)).text();
    assert.equal(served, await Deno.readTextFile(`${root}examples/chat.html`));
    const profile = await Deno.makeTempDir({ prefix: "tsgi-chromium-" });
    let context: Browser<Page> | undefined;
    try {
      context = await launchChromium<Page>(profile);
      const alice = await context.newPage();
      const bob = await context.newPage();
      for (const page of [alice, bob]) page.setDefaultTimeout(30_000);
      assert.equal(
        (await alice.goto(`${server.url}?name=alice`))?.status(),
        200,
      );
      assert.equal(await alice.title(), "tsgi chat");
      await alice.waitForSelector('#status[data-state="open"]');
      await bob.goto(`${server.url}?name=bob`);
      await bob.waitForSelector('#status[data-state="open"]');
      await seen(alice, "bob joined");

      await alice.fill("#text", "hello bob, ça va ?");
      await alice.click("button");
      await seen(bob, "alice: hello bob, ça va ?");
      await seen(alice, "alice: hello bob, ça va ?");

      await bob.fill("#text", "hi alice 👋");
      await bob.click("button");
      await seen(alice, "bob: hi alice 👋");

      assert.equal(
        await alice.textContent("#status"),
        "connected as alice",
      );
      assert.deepEqual(errors, []);
    } finally {
      await context?.close();
      await server.shutdown();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
