// Shared by the browser tests (e2e/*.test.mjs): the API client, the
// devnet's seeded transactions, the browser and its pages.
//
// Environment: EXPLORER_URL (the API serving the UI), EXPLORER_TXS (the
// lines of `cargo run -p api --example devnet_transactions`),
// EXPLORER_SCREENSHOTS (folder for the screenshots), CHROMIUM (default
// /usr/bin/chromium).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const base = process.env.EXPLORER_URL ?? "http://127.0.0.1:8080";
const shots = process.env.EXPLORER_SCREENSHOTS ?? join(tmpdir(), "explorer-screenshots");
mkdirSync(shots, { recursive: true });

/** The example's lines: the transfer, the notary record, then tagged lines. */
export const seedLines = readFileSync(process.env.EXPLORER_TXS ?? "", "utf8").trim().split("\n");

export async function graphql(query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Submits a transaction unless it is already in a block; its ID. */
export async function submit(encoded) {
  const { decodeTransaction } = await graphql("mutation($e: String!) { decodeTransaction(encoded: $e) { id } }", { e: encoded });
  const { transaction } = await graphql("query($id: String!) { transaction(id: $id) { id } }", { id: decodeTransaction.id });
  if (!transaction) await graphql("mutation($e: String!) { submitTransaction(encoded: $e) { id } }", { e: encoded });
  return decodeTransaction.id;
}

/** Waits until the transaction `id` is in a block; its ID and height. */
export async function confirmed(id) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const { transaction } = await graphql("query($id: String!) { transaction(id: $id) { blockHeight } }", { id });
    if (transaction) return { id, height: transaction.blockHeight };
    if (Date.now() > deadline) throw new Error(`transaction ${id} not confirmed in 90 s`);
    await sleep(500);
  }
}

/** Submits (once) and waits until it is in a block. */
export async function submitAndConfirm(encoded) {
  return confirmed(await submit(encoded));
}

let context;
let profile;

/** The browser: a persistent context on a fresh, empty profile. */
export async function launch() {
  profile = mkdtempSync(join(tmpdir(), "explorer-chromium-"));
  // Playwright takes the profile as an argument, not as --user-data-dir.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return context;
}

export async function closeBrowser() {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  console.log(`screenshots: ${shots}`);
}

/** A page that records console errors and uncaught exceptions. */
export async function open(path, options = {}) {
  const page = await context.newPage();
  await page.setViewportSize(options.viewport ?? { width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: "light" });
  const errors = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  if (options.route) await options.route(page);
  await page.goto(`${base}${path}`);
  return { page, errors, close: () => page.close() };
}

/** Rendered text with whitespace runs as one space. */
export function words(text) {
  return text.replace(/\s+/g, " ").replace(/ ([,;]) /g, "$1 ");
}

export async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** The `<tag>-wave-<n> <hex>` lines of the seed as wave number → transactions. */
export function wavesOf(tag) {
  const waves = new Map();
  for (const line of seedLines) {
    const match = new RegExp(`^${tag}-wave-(\\d+) ([0-9a-f]+)$`).exec(line);
    if (match) waves.set(Number(match[1]), [...(waves.get(Number(match[1])) ?? []), match[2]]);
  }
  return waves;
}

/** Submits each wave (in order) and waits until all its transactions are in blocks. */
export async function submitWaves(waves) {
  for (const wave of [...waves.keys()].sort((a, b) => a - b)) {
    const ids = [];
    for (const hex of waves.get(wave)) ids.push(await submit(hex));
    for (const id of ids) await confirmed(id);
  }
}
