// main.ts as a real process: prints its URL, serves the catalog from --weights, refuses bad flags,
// and on SIGTERM closes sockets with 1001, lets an in-flight request finish, and exits 0.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { encodeFrame } from "../../src/server/frames.ts";
import { buildTestEffect, rawHeaders, tempDir, testCrop } from "./fixture.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const fx = await buildTestEffect({ id: "proc" });
const S = fx.config.inputSize;

/** `deno task start`'s own flags, so the process runs as a user's would. */
const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
const START_FLAGS = (config.tasks.start as string).split(" ").filter((f) => f.startsWith("--"));

/** Starts main.ts and resolves with its base URL once it prints "serving on …". */
async function start(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...START_FLAGS, MAIN, ...args],
    env: { XDG_RUNTIME_DIR: "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  let buffered = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no URL after 60 s: ${lines.join("\n")}`)),
      60_000,
    );
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        const parts = buffered.split("\n");
        buffered = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          const m = /serving on (http:\/\/\S+)/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(m[1].replace(/\/$/, ""));
          }
        }
      }
      clearTimeout(timer);
      reject(new Error(`exited before serving: ${lines.join("\n")}\n${await stderr}`));
    })();
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      lines.push(...value.split("\n").filter(Boolean));
    }
  })();
  return { child, url, lines, stderr, rest };
}

Deno.test("main.ts serves the catalog from --weights on --port and stops cleanly on SIGTERM", async () => {
  const { child, url, lines, stderr, rest } = await start([
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--weights",
    fx.dir,
    "--max-wait-ms",
    "400",
  ]);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(lines.some((l) => /effects: proc/.test(l)), lines.join("\n"));
  // ONNX Runtime on the CPU serves inference unless a hardware adapter is there to use.
  const adapter = await navigator.gpu?.requestAdapter();
  const expected = adapter && !adapter.info.isFallbackAdapter ? "webgpu" : "onnxruntime";
  assert.ok(lines.some((l) => l.startsWith(`backend: ${expected};`)), lines.join("\n"));
  const catalog = await (await fetch(`${url}/api/effects`)).json();
  assert.deepEqual(catalog.effects.map((e: { id: string }) => e.id), ["proc"]);
  const weights = await fetch(`${url}/weights/${fx.sha256}.safetensors`);
  assert.deepEqual(new Uint8Array(await weights.arrayBuffer()), fx.bytes);

  // A socket, and a request that waits 400 ms in the batcher, are both open when SIGTERM lands.
  const ws = new WebSocket(`${url.replace("http", "ws")}/api/effects/proc/stream`);
  const closed = new Promise<CloseEvent>((r) => ws.onclose = r);
  await new Promise((r) => ws.onopen = r);
  ws.send(encodeFrame({ seq: 1, format: "rgba", width: S, height: S, payload: testCrop(S) }));
  const inflight = fetch(`${url}/api/effects/proc/infer`, {
    method: "POST",
    body: testCrop(S),
    headers: rawHeaders(S),
  });
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGTERM");
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength, S * S * 4);
  assert.equal((await closed).code, 1001);
  const status = await child.status;
  await rest;
  assert.equal(status.code, 0, `${lines.join("\n")}\n${await stderr}`);
  assert.ok(lines.some((l) => l.includes("SIGTERM")));
  assert.ok(lines.some((l) => l === "stopped"));
});

Deno.test("main.ts takes PORT from the environment and refuses bad flags with exit code 2", async () => {
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-env", MAIN, "--port", "99999"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--port must be an integer/);

  const empty = await tempDir();
  const { child, url, rest } = await start([
    "--weights",
    empty,
    "--host",
    "127.0.0.1",
    "--no-warmup",
  ], {
    PORT: "0",
  });
  const health = await (await fetch(`${url}/healthz`)).json();
  assert.deepEqual(health.effects, []);
  child.kill("SIGINT");
  assert.equal((await child.status).code, 0);
  await rest;
});
