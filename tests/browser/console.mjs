// The web console in a real browser (Debian's headless Chromium through playwright-core),
// run by tests/e2e/console.rs against a `corridor dev` stack. Every step checks what a person
// would see; the first failed check exits non-zero with what was on the page.
//
// Environment: BASE_URL, PASSWORD (of the seeded console users), PAYOUT_ID (a held payout),
// STATEMENT_FILE (a camt.053 file) and ORDER_ID (the ramp order its line belongs to),
// SCREENSHOTS (a directory), CHROMIUM (default /usr/bin/chromium).
// Prints one JSON line: {"api_key": "<the secret the merchant saw once>"}.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const base = process.env.BASE_URL;
const password = process.env.PASSWORD;
const payout = process.env.PAYOUT_ID;
const shots = process.env.SCREENSHOTS;
mkdirSync(shots, { recursive: true });

function check(ok, what, detail = "") {
  if (!ok) {
    console.error(`console check failed: ${what}\n${detail}`);
    process.exit(1);
  }
}

async function text(page) {
  return page.locator("main").innerText();
}

async function signIn(page, email, secret) {
  await page.goto(`${base}/console/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/console\/login/);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium" });
try {
  const context = await browser.newContext();
  const page = await context.newPage();

  // Wrong password and unknown user: the same message, no session.
  await signIn(page, "officer1@corridor.local", "not-the-password");
  const wrong = await text(page);
  check(wrong.includes("The email or password is wrong."), "a wrong password is refused", wrong);
  await page.screenshot({ path: `${shots}/login-refused.png`, fullPage: true });
  await signIn(page, "nobody@corridor.local", password);
  check((await text(page)).includes("The email or password is wrong."), "an unknown user gets the same message");

  // Officer 1: the queue shows the held payout; the case page shows the evidence and four eyes.
  await signIn(page, "officer1@corridor.local", password);
  await page.waitForURL(/\/console\/compliance\/reviews$/);
  const queue = await text(page);
  check(queue.includes(payout), "the held payout is in the queue", queue);
  check(queue.includes("amount_review_threshold"), "the queue says why it was held", queue);
  await page.screenshot({ path: `${shots}/review-queue.png`, fullPage: true });
  await page.getByRole("link", { name: payout }).click();
  await page.waitForURL(new RegExp(`/console/compliance/reviews/${payout}`));
  check((await text(page)).includes("Nobody has claimed this case."), "the case is unclaimed");
  await page.getByRole("button", { name: "Claim this case" }).click();
  await page.waitForURL(/done=claim/);
  const before = await text(page);
  check(before.includes("Claimed by officer1@corridor.local"), "officer1 claims the case", before);
  check(before.includes("0 of 2"), "no approvals yet, two needed", before);
  check(before.includes("Why it was held"), "the evidence is shown", before);
  await page.getByLabel(/^Reason/).fill("Supplier contract and invoice checked");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForURL(/done=approve/);
  const one = await text(page);
  check(one.includes("Your approval is recorded.") && one.includes("1 of 2"), "officer1's approval counts once", one);
  check(one.includes("officer1@corridor.local"), "who approved is shown", one);
  await page.screenshot({ path: `${shots}/review-case.png`, fullPage: true });

  // The same officer again: four eyes refuses it.
  await page.getByLabel(/^Reason/).fill("Approving twice");
  await page.getByRole("button", { name: "Approve" }).click();
  const twice = await text(page);
  check(twice.includes("a different officer must give the next approval"), "the same officer cannot approve twice", twice);

  // A forged form (no CSRF token) with the officer's own cookies is refused.
  const forged = await page.request.post(`${base}/console/compliance/reviews/${payout}`, {
    form: { decision: "reject", reason: "forged" },
    maxRedirects: 0,
  });
  check(forged.status() === 403, "a form without the CSRF token is refused", `status ${forged.status()}`);
  check((await forged.text()).includes("This form cannot be accepted"), "and says why");
  await signOut(page);

  // Officer 2 gives the second approval: the payout clears.
  await signIn(page, "officer2@corridor.local", password);
  await page.goto(`${base}/console/compliance/reviews/${payout}`);
  await page.getByLabel(/^Reason/).fill("Second review: agree");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForURL(/done=approve/);
  const two = await text(page);
  check(two.includes("2 of 2"), "two approvals from two officers", two);
  check(!two.includes("still needed"), "nothing is missing any more", two);
  await signOut(page);

  // The merchant creates an API key and sees its secret once.
  await signIn(page, "merchant@corridor.local", password);
  await page.waitForURL(/\/console\/merchant\/api-keys$/);
  await page.getByLabel("Name").fill("browser-test");
  await page.getByLabel("balances:read").check();
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.getByLabel("Secret").inputValue();
  check(/^cor_sk_[A-Za-z0-9]+$/.test(secret), "the new key's secret is shown", secret);
  await page.screenshot({ path: `${shots}/api-key-created.png`, fullPage: true });
  await page.goto(`${base}/console/merchant/api-keys`);
  const later = await page.content();
  check(!later.includes(secret), "the secret is never shown again");
  check(later.includes("browser-test"), "the key is listed");
  await page.screenshot({ path: `${shots}/api-keys.png`, fullPage: true });

  // A merchant opening a compliance page gets a 403 page.
  const forbidden = await page.goto(`${base}/console/compliance/reviews`);
  check(forbidden.status() === 403, "a merchant cannot open compliance pages", `status ${forbidden.status()}`);
  check((await text(page)).includes("Not available to your role"), "and is told why");
  await page.screenshot({ path: `${shots}/forbidden.png`, fullPage: true });

  // Treasury imports a camt.053 statement, runs a reconciliation and resolves the exception by
  // matching the unexplained bank line to its order by hand.
  await signIn(page, "treasury@corridor.local", password);
  await page.waitForURL(/\/console\/treasury\/reconciliation$/);
  await page.getByLabel(/^Statement file/).setInputFiles(process.env.STATEMENT_FILE);
  await page.getByRole("button", { name: "Import" }).click();
  const imported = await text(page);
  check(imported.includes("camt.053 with 1 line(s)"), "the statement is imported", imported);
  await page.getByRole("button", { name: "Reconcile" }).click();
  const run = await text(page);
  check(run.includes("unknown_deposit") && run.includes("bank_only"), "the unexplained bank line is an exception", run);
  await page.screenshot({ path: `${shots}/reconciliation-exceptions.png`, fullPage: true });
  await page.getByLabel("Ramp order").selectOption(process.env.ORDER_ID);
  await page.getByLabel(/^Reason/).fill("RampCo confirmed: fee taken from the transfer");
  await page.getByRole("button", { name: "Match" }).click();
  const matched = await text(page);
  check(matched.includes("by hand"), "the match is recorded", matched);
  check(matched.includes('"bank_only":0') && matched.includes("matched by hand"), "the bank line is no longer unexplained: the order carries it", matched);
  await page.screenshot({ path: `${shots}/reconciliation-matched.png`, fullPage: true });

  // An expired (here: invalid) session goes back to the login form with a notice.
  await context.addCookies([{ name: "corridor_session", value: "expired.token.value", url: base }]);
  await page.goto(`${base}/console/compliance/reviews`);
  check(page.url().includes("/console/login"), "an ended session leads to the login form", page.url());
  check((await text(page)).includes("Your session has ended"), "with a notice");

  console.log(JSON.stringify({ api_key: secret }));
} finally {
  await browser.close();
}
