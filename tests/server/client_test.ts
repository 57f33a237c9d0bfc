// The routes that serve the browser client: the demo page, the SDK and demo bundles (built once,
// cached, revalidated by ETag), MediaPipe's wasm from the npm package (nothing else), tuning
// tables, sample sources, and a CSP that lets MediaPipe's WebAssembly run.

import assert from "node:assert/strict";
import { createEdgeServer } from "../../src/server/app.ts";
import { buildTestEffect, StubBackend, tempDir } from "./fixture.ts";

const fx = await buildTestEffect({ id: "inky" });
const samples = await tempDir();
await Deno.writeFile(`${samples}/face.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0xe0]));
await Deno.writeTextFile(`${samples}/notes.txt`, "not a sample");
const edge = await createEdgeServer({
  weightsDir: fx.dir,
  backend: new StubBackend(),
  samplesDir: samples,
  log: () => {},
});
const { app } = edge;

Deno.test("GET / is the demo page: catalog options, its script and stylesheet, a CSP for wasm", async () => {
  const res = await app.request("/");
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<option value="inky">Test effect inky<\/option>/);
  assert.match(html, /<script type="module" src="\/client\/demo.js"><\/script>/);
  assert.match(html, /href="\/client\/demo.css"/);
  for (const id of ["view", "message", "effect", "split", "backend", "upload", "t-infer"]) {
    assert.match(html, new RegExp(`id="${id}"`), `no #${id}`);
  }
  const csp = res.headers.get("content-security-policy")!;
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.doesNotMatch(csp, /unsafe-inline|'unsafe-eval'/);
  // The page may talk to us and to the public model's host, nowhere else: MediaPipe's usage logs
  // (a POST every 60 s to the host its bundle names) are refused by the browser.
  const connect = /connect-src ([^;]*)/.exec(csp)![1].split(" ");
  assert.deepEqual(connect, ["'self'", "https://storage.googleapis.com"]);
  const bundle = await Deno.readTextFile("node_modules/@mediapipe/tasks-vision/vision_bundle.mjs");
  const logHost = /"(https:\/\/[^/"]+)\/v1\/log"/.exec(bundle)?.[1];
  assert.ok(logHost, "MediaPipe's bundle no longer names its log endpoint: recheck the policy");
  assert.ok(!connect.includes(logHost), `${logHost} is allowed`);
  assert.match(await (await app.request("/status")).text(), /Face effects edge server/);
});

Deno.test("the SDK and demo bundles are built once, served with an ETag, 304 on revalidation", async () => {
  for (const name of ["sdk.js", "demo.js"]) {
    const res = await app.request(`/client/${name}`);
    assert.equal(res.status, 200, name);
    assert.match(res.headers.get("content-type")!, /text\/javascript/);
    const js = await res.text();
    assert.ok(js.length > 100_000, `${name} is ${js.length} bytes`);
    // The WGSL kernels travel inside the bundle as text.
    assert.match(js, /@compute @workgroup_size\(WG\)/);
    const etag = res.headers.get("etag")!;
    const again = await app.request(`/client/${name}`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
  }
  assert.match(await (await app.request("/client/sdk.js")).text(), /createEffectSession/);
  const css = await app.request("/client/demo.css");
  assert.match(css.headers.get("content-type")!, /text\/css/);
  assert.equal((await app.request("/client/other.js")).status, 404);
});

Deno.test("MediaPipe's wasm files come from the npm package, and nothing else does", async () => {
  const wasm = await app.request("/mediapipe/wasm/vision_wasm_internal.wasm");
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get("content-type"), "application/wasm");
  const bytes = new Uint8Array(await wasm.arrayBuffer());
  assert.deepEqual([...bytes.subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d]);
  const js = await app.request("/mediapipe/wasm/vision_wasm_internal.js");
  assert.match(js.headers.get("content-type")!, /javascript/);
  await js.body?.cancel();
  for (const bad of ["package.json", "..%2Fpackage.json", "vision_bundle.mjs", "x.wasm"]) {
    const res = await app.request(`/mediapipe/wasm/${bad}`);
    assert.equal(res.status, 404, bad);
    await res.body?.cancel();
  }
});

Deno.test("tuning tables are served by adapter key; unknown or odd names are 404", async () => {
  const dir = new URL("../../tuning/", import.meta.url);
  const known = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".json"))?.name;
  if (known) {
    const res = await app.request(`/tuning/${known}`);
    assert.equal(res.status, 200);
    assert.equal(typeof (await res.json()).adapter, "string");
  }
  for (const bad of ["no-such-adapter.json", "..%2Fdeno.json", "UPPER.json"]) {
    const res = await app.request(`/tuning/${bad}`);
    assert.equal(res.status, 404, bad);
    await res.body?.cancel();
  }
});

Deno.test("sample sources: only pictures and clips of the samples directory are listed and served", async () => {
  const list = await (await app.request("/api/samples")).json();
  assert.deepEqual(list, { samples: [{ name: "face.jpg", url: "/samples/face.jpg" }] });
  const res = await app.request("/samples/face.jpg");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/jpeg");
  await res.body?.cancel();
  for (const bad of ["notes.txt", "..%2F" + "inky.json", "missing.jpg"]) {
    const r = await app.request(`/samples/${bad}`);
    assert.equal(r.status, 404, bad);
    await r.body?.cancel();
  }
  const bare = await createEdgeServer({
    weightsDir: fx.dir,
    backend: new StubBackend(),
    log: () => {},
  });
  assert.deepEqual(await (await bare.app.request("/api/samples")).json(), { samples: [] });
});
