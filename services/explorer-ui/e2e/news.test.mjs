// Browser test of the news page (/news) against the devnet scripts/test-ui
// starts. The data comes from real signed chat transactions (the
// `identity-wave-7..9` lines of `cargo run -p api --example
// devnet_transactions`, see services/api/examples/devnet_support/identity.rs):
// alice's broadcast channel `acme-news` with one news item due now, one
// scheduled for 2030 and one withdrawn after publication.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { closeBrowser, confirmed, graphql, launch, open, seedLines, shot, submit, submitAndConfirm, words } from "./support.mjs";

// Titles as the example publishes them (NEWS_DUE, NEWS_SCHEDULED,
// NEWS_WITHDRAWN in devnet_support/identity.rs).
const DUE = "Devnet explorer news is live";
const SCHEDULED = "Scheduled for 2030";
const WITHDRAWN = "Withdrawn notice";

const [transferHex, notaryHex] = seedLines;
const waves = new Map();
for (const line of seedLines) {
  const match = /^identity-wave-(\d+) ([0-9a-f]+)$/.exec(line);
  if (match) waves.set(Number(match[1]), [...(waves.get(Number(match[1])) ?? []), match[2]]);
}

before(async () => {
  assert.ok(waves.size >= 10, "EXPLORER_TXS has no chat transactions (rebuild the devnet_transactions example)");
  // Idempotent: the identity test may have submitted these already.
  await submitAndConfirm(transferHex);
  await submitAndConfirm(notaryHex);
  for (const wave of [...waves.keys()].sort((a, b) => a - b)) {
    const ids = [];
    for (const hex of waves.get(wave)) ids.push(await submit(hex));
    for (const id of ids) await confirmed(id);
  }
  // The chat model folds the last block (the withdrawal) a moment later.
  for (const deadline = Date.now() + 30_000; ; ) {
    const { newsTimeline } = await graphql("{ newsTimeline(first: 50) { title } }");
    const titles = newsTimeline.map((item) => item.title);
    if (titles.includes(DUE) && !titles.includes(WITHDRAWN)) break;
    assert.ok(Date.now() < deadline, `the chat model did not fold the news in 30 s: ${JSON.stringify(titles)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await launch();
});

after(closeBrowser);

test("the news page shows the due item, not the scheduled or the withdrawn one", async () => {
  const { broadcastChannels } = await graphql("{ broadcastChannels { name } }");
  assert.ok(
    broadcastChannels.some((channel) => channel.name === "acme-news"),
    `acme-news is not listed: ${JSON.stringify(broadcastChannels)}`,
  );
  const { page, errors, close } = await open("/news");
  const timeline = page.getByTestId("news-timeline");
  await timeline.waitFor();
  const text = words(await timeline.innerText());
  assert.ok(text.includes(DUE), `the due item is missing: ${text}`);
  assert.ok(text.includes(`${DUE}: published by alice on the devnet.`), text);
  assert.ok(text.includes("Thanks"), `the button caption is missing: ${text}`);
  assert.ok(!text.includes(SCHEDULED), `the item scheduled for 2030 is shown: ${text}`);
  assert.ok(!text.includes(WITHDRAWN), `the withdrawn item is shown: ${text}`);
  assert.ok(words(await page.locator("body").innerText()).includes("acme-news"), "the channel is not listed on the page");
  await shot(page, "news");
  assert.deepEqual(errors, []);
  await close();
});
