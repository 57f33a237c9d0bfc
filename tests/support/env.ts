// Gates for tests that need things from outside the repo: ../shared, Chromium, a WebGPU adapter.
// Missing outside CI → the test is skipped with one printed line; missing under CI=true → it fails.
//
// Usage (a requirement is checked once, when the test file loads):
//
//   import { needs, requireChromium, requireShared, requireWebGpu, sharedDir } from "./support/env.ts";
//
//   Deno.test(needs(requireChromium(), { name: "demo page renders", async fn() { … } }));
//   Deno.test(needs([requireShared("models/face_landmarker.task"), await requireWebGpu()], {
//     name: "landmarks on the sample clip",
//     async fn() { const model = `${sharedDir}/models/face_landmarker.task`; … },
//   }));
//
// Outside CI a missing requirement prints e.g.
//   skip: ../shared not found (fresh clone) — landmarks on the sample clip
// and the test shows as "ignored". With CI=true the same test runs and fails with that reason,
// so CI can never go green by silently skipping.

import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromiumPath } from "../../src/headless/chromium.ts";

const here = dirname(fileURLToPath(import.meta.url));

/** Absolute path of the repo root (this file is tests/support/env.ts). */
export const repoRoot: string = resolve(here, "../..");

/** Absolute path of `../shared` beside the repo (models, data sets, DESIGN.md); absent in a fresh clone. */
export const sharedDir: string = resolve(repoRoot, "../shared");

/** True under CI (`CI=true`), where a missing requirement is a failure rather than a skip. */
export const isCI: boolean = Deno.env.get("CI") === "true";

/** The outcome of checking one outside thing. `missing` is the reason shown when it is absent. */
export interface Requirement {
  readonly ok: boolean;
  readonly missing: string;
}

/** `../shared` exists (and so does each given path inside it, e.g. "models/face_landmarker.task"). */
export function requireShared(...paths: string[]): Requirement {
  if (!isDir(sharedDir)) return absent("../shared not found (fresh clone)");
  for (const p of paths) {
    if (!existsSync(`${sharedDir}/${p}`)) return absent(`../shared/${p} not found`);
  }
  return present;
}

/** The Chromium binary exists and is executable. */
export function requireChromium(): Requirement {
  try {
    const st = statSync(chromiumPath);
    if (st.isFile() && (st.mode & 0o111) !== 0) return present;
  } catch { /* reported below */ }
  return absent(`${chromiumPath} not found (apt-get install chromium, or bash .ci/run)`);
}

let webGpu: Promise<Requirement> | undefined;

/** Deno's `navigator.gpu` gives an adapter (software llvmpipe counts; mesa-vulkan-drivers provides it). */
export function requireWebGpu(): Promise<Requirement> {
  webGpu ??= (async () => {
    const why = "no WebGPU adapter in Deno (apt-get install mesa-vulkan-drivers, or bash .ci/run)";
    try {
      const adapter = await navigator.gpu?.requestAdapter();
      return adapter ? present : absent(why);
    } catch (e) {
      return absent(`${why}: ${e instanceof Error ? e.message : e}`);
    }
  })();
  return webGpu;
}

/**
 * Gates a test definition on its requirements: returned unchanged when all are met; otherwise
 * ignored with one printed `skip:` line, or (CI=true) made to fail with the reasons.
 */
export function needs(
  requirements: Requirement | readonly Requirement[],
  test: Deno.TestDefinition,
): Deno.TestDefinition {
  const reasons = [requirements].flat().filter((r) => !r.ok).map((r) => r.missing);
  if (reasons.length === 0 || test.ignore === true) return test;
  const why = reasons.join("; ");
  if (isCI) {
    return {
      ...test,
      fn() {
        throw new Error(`missing under CI=true: ${why}`);
      },
    };
  }
  console.log(`skip: ${why} — ${test.name}`);
  return { ...test, ignore: true };
}

const present: Requirement = Object.freeze({ ok: true, missing: "" });

function absent(missing: string): Requirement {
  return Object.freeze({ ok: false, missing });
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
