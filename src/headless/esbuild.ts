// esbuild for our browser code: one entry → one ESM bundle, `.wgsl` imported as text, so the
// browser compiles the very same WGSL bytes as Deno. Used by the edge server (the client SDK and
// the demo page) and by the headless-Chromium harness (test and tool pages).
//
// Runs esbuild's native binary once per call (≈10–300 ms): the npm JS API keeps a service child
// process or worker alive between builds, which Deno's leak sanitizers report.

import { createRequire } from "node:module";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface BundleOptions {
  /** Minify (the server's bundles); default false (readable stacks in tests). */
  minify?: boolean;
}

/** Bundles a TypeScript entry for the browser. Returns the JS text. */
export async function bundle(entry: string | URL, options: BundleOptions = {}): Promise<string> {
  const path = entry instanceof URL ? fileURLToPath(entry) : resolve(entry);
  const { code, stdout, stderr } = await new Deno.Command(esbuildBinary(), {
    args: [
      path,
      "--bundle",
      "--format=esm",
      "--platform=browser",
      "--target=es2022",
      "--loader:.wgsl=text",
      "--log-level=error",
      ...(options.minify ? ["--minify", "--legal-comments=none"] : []),
    ],
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  if (code !== 0) throw new Error(`esbuild failed on ${entry}:\n${text.decode(stderr)}`);
  return text.decode(stdout);
}

/** The platform binary that npm:esbuild ships (`ESBUILD_BINARY_PATH` overrides, as in esbuild). */
export function esbuildBinary(): string {
  const override = Deno.env.get("ESBUILD_BINARY_PATH");
  if (override) return override;
  const os = Deno.build.os === "windows" ? "win32" : Deno.build.os;
  const arch = ({ x86_64: "x64", aarch64: "arm64" } as const)[Deno.build.arch];
  const file = os === "win32" ? "esbuild.exe" : "bin/esbuild";
  const fromEsbuild = createRequire(createRequire(import.meta.url).resolve("esbuild"));
  return fromEsbuild.resolve(`@esbuild/${os}-${arch}/${file}`);
}
