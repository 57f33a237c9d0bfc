// Tuning tables in the browser: the same loader fetches the adapter's table from the server's
// /tuning/, and a software adapter without one (SwiftShader here) gets the shipped defaults.

import assert from "node:assert/strict";
import { withBrowser } from "../../src/headless/chromium.ts";
import { SOFTWARE_DEFAULTS, type Tuning } from "../../src/runtime/tuning.ts";
import { needs, requireChromium } from "../support/env.ts";

Deno.test(needs(requireChromium(), {
  name: "Chromium loads tuning tables per adapter from /tuning/, with software defaults",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const own: Tuning = { adapter: "some-gpu", choices: { k: { variant: "v", wg: 32 } } };
      await Deno.writeTextFile(`${dir}/some-gpu.json`, JSON.stringify(own));
      await Deno.writeTextFile(
        `${dir}/${SOFTWARE_DEFAULTS}.json`,
        JSON.stringify({ adapter: SOFTWARE_DEFAULTS, choices: { k: "d" } }),
      );
      await withBrowser(async (browser) => {
        const page = await browser.open(new URL("./tuning_browser_entry.ts", import.meta.url));
        assert.deepEqual(await page.call("load", "some-gpu", false), own);
        assert.equal(await page.call("load", "other-gpu", false), undefined);
        const fallback = await page.call<Tuning>("load", "other-gpu", true);
        assert.equal(fallback.source, "default");
        const mine = await page.call<{ key: string; isFallbackAdapter: boolean; tuning?: Tuning }>(
          "ownAdapter",
        );
        // No table for Chromium's adapter in this directory: a software one gets the defaults.
        assert.equal(mine.tuning?.source, mine.isFallbackAdapter ? "default" : undefined);
      }, { mounts: { "/tuning/": dir } });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
}));
