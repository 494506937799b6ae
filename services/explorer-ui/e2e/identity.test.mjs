// Browser tests of the identity and organization pages and of names in
// the search box, against the devnet scripts/test-ui starts. The data
// comes from real signed transactions (`identity-wave-<n>` lines of
// `cargo run -p api --example devnet_transactions`): alice (keys: one
// rotated away, one revoked, one active; an `email` attribute attested by
// bob; owner of acme), bob (vouches for alice; member of acme.sales by an
// accepted invitation; invited to own acme, pending).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { base, closeBrowser, confirmed, graphql, launch, open, seedLines, shot, submit, submitAndConfirm, words } from "./support.mjs";

const [transferHex, notaryHex] = seedLines;
const secret = seedLines.find((line) => line.startsWith("identity-secret "))?.slice("identity-secret ".length);
const waves = new Map();
for (const line of seedLines) {
  const match = /^identity-wave-(\d+) ([0-9a-f]+)$/.exec(line);
  if (match) waves.set(Number(match[1]), [...(waves.get(Number(match[1])) ?? []), match[2]]);
}

let alice;

before(async () => {
  assert.ok(secret && waves.size > 0, "EXPLORER_TXS has no identity transactions (rebuild the devnet_transactions example)");
  // The identity transactions are paid from the notary record's change.
  await submitAndConfirm(transferHex);
  await submitAndConfirm(notaryHex);
  for (const wave of [...waves.keys()].sort((a, b) => a - b)) {
    const ids = [];
    for (const hex of waves.get(wave)) ids.push(await submit(hex));
    for (const id of ids) await confirmed(id);
  }
  // The identity model folds the last block (bob accepted) a moment later.
  for (const deadline = Date.now() + 30_000; ; ) {
    const { identity } = await graphql('{ identity(name: "bob") { memberships { totalCount } } }');
    if (identity?.memberships.totalCount === 1) break;
    assert.ok(Date.now() < deadline, "the identity model did not fold bob's membership in 30 s");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  ({ identity: alice } = await graphql('{ identity(name: "alice") { id attributes { label commitment } } }'));
  await launch();
});

after(closeBrowser);

test("an identity page: keys with history, attributes as commitments, attestation, vouch, membership", async () => {
  const { page, errors, close } = await open("/identity/alice");
  await page.getByRole("heading", { name: "Identity alice" }).waitFor();
  const keys = page.getByTestId("keys");
  await keys.waitFor();
  // Registered with key 21, rotated to key 23; key 22 added then revoked.
  assert.deepEqual(await keys.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.dataset.status)), ["retired", "revoked", "active"]);
  const history = words(await keys.innerText());
  assert.match(history, /registered at [\d,]+ by \S+/);
  assert.match(history, /rotated away at [\d,]+, replaced by [0-9a-f]{8}…/);
  assert.match(history, /revoked at [\d,]+/);
  assert.match(history, /rotated in at [\d,]+ by \S+, replacing [0-9a-f]{8}…/);

  const [email] = alice.attributes;
  assert.equal(email.label, "email");
  const attributes = page.getByTestId("attributes");
  assert.match(words(await attributes.innerText()), /email/);
  await attributes.locator(`[title="${email.commitment}"]`).waitFor();

  assert.match(words(await page.getByTestId("attestations").innerText()), /bob email active [\d,]+/);
  assert.match(words(await page.getByTestId("vouches-received").innerText()), /bob 80 \/ 100 met in person [\d,]+/);
  assert.match(words(await page.getByTestId("identity-memberships").innerText()), /acme owner [\d,]+ alice/);
  // The clear value never reaches the page (only the salted commitment is on chain).
  const html = await page.content();
  assert.ok(!html.includes(secret), "the attribute's clear value is on the page");
  assert.ok(!html.toLowerCase().includes(Buffer.from(secret).toString("hex")), "the attribute's value is on the page as hex");
  await shot(page, "identity");

  // Links: the voucher's page, then the organization.
  await page.locator('[data-testid="vouches-received"] a[href="/identity/bob"]').click();
  await page.getByRole("heading", { name: "Identity bob" }).waitFor();
  assert.match(words(await page.getByTestId("vouches-given").innerText()), /alice 80 \/ 100 met in person/);
  assert.match(words(await page.getByTestId("attestations-given").innerText()), /alice email active/);
  assert.match(words(await page.getByTestId("identity-memberships").innerText()), /acme\.sales member [\d,]+ bob/);
  assert.match(words(await page.getByTestId("identity-invitations").innerText()), /owner of acme, invited by alice/);
  await shot(page, "identity-bob");
  assert.deepEqual(errors, []);
  await close();
});

test("an organization page: tree, owners (inherited), members, pending invitations", async () => {
  const { page, errors, close } = await open("/identity/alice");
  await page.locator('[data-testid="identity-memberships"] a[href="/organization/acme"]').click();
  await page.getByRole("heading", { name: "Organization acme" }).waitFor();
  assert.match(words(await page.getByTestId("org-tree").innerText()), /acme\.sales/);
  assert.match(words(await page.getByTestId("org-owners").innerText()), /alice \(identity\) owner acme [\d,]+ alice/);
  assert.match(words(await page.getByTestId("org-invitations").innerText()), /bob \(identity\) as owner, invited by alice at [\d,]+/);
  await shot(page, "organization");

  await page.locator('[data-testid="org-tree"] a[href="/organization/acme.sales"]').click();
  await page.getByRole("heading", { name: "Organization acme.sales" }).waitFor();
  assert.match(words(await page.getByTestId("org-ancestors").innerText()), /acme › sales/);
  // alice owns acme.sales through acme; bob joined by accepting (the role is granted by his acceptance).
  assert.match(words(await page.getByTestId("org-owners").innerText()), /alice \(identity\) owner acme [\d,]+/);
  assert.match(words(await page.getByTestId("org-members").innerText()), /bob \(identity\) member [\d,]+ bob/);
  await shot(page, "organization-sub");
  await page.locator('[data-testid="org-ancestors"] a[href="/organization/acme"]').click();
  await page.getByRole("heading", { name: "Organization acme" }).waitFor();
  assert.deepEqual(errors, []);
  await close();
});

test("the search box resolves identity names and organization paths; an unknown name is not found", async () => {
  const { page, errors, close } = await open("/");
  const box = page.getByRole("searchbox", { name: /identity name or organization path/ });
  await box.fill("Alice");
  await box.press("Enter");
  await page.waitForURL("**/identity/alice");
  await page.getByRole("heading", { name: "Identity alice" }).waitFor();
  await box.fill("ACME.sales");
  await box.press("Enter");
  await page.waitForURL("**/organization/acme.sales");
  await page.getByRole("heading", { name: "Organization acme.sales" }).waitFor();
  await box.fill("nobody-here");
  await box.press("Enter");
  await page.getByTestId("not-found").waitFor();
  assert.match(await page.getByTestId("not-found").innerText(), /No identity or organization is named “nobody-here”/);
  await shot(page, "search-name-not-found");
  // Deep links to unknown names.
  await page.goto(`${base}/identity/nobody-here`);
  assert.match(await page.getByTestId("not-found").innerText(), /No identity is named “nobody-here”/);
  await page.goto(`${base}/organization/acme.nothing`);
  assert.match(await page.getByTestId("not-found").innerText(), /No organization has the path “acme\.nothing”/);
  assert.deepEqual(errors, []);
  await close();
});
