// The interface end to end in a real browser (Debian's Chromium), over the
// fake backend at the IPC boundary: every screen's main path.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";

interface Fake {
  files: Map<string, string>;
  dialogAnswer: string[];
  wordDelayMs: number;
  answer: string;
  dropFiles(paths: string[]): Promise<void>;
}

async function fake<T>(page: Page, run: (fake: Fake) => T | Promise<T>): Promise<T> {
  // The e2e build installs the fake before the app renders, asynchronously.
  await page.waitForFunction(() => "__fake" in window);
  return page.evaluate(`(${run.toString()})(window.__fake)`) as Promise<T>;
}

async function createWorkspace(page: Page, name: string) {
  await page.goto("/");
  await expect(page.getByText(/No workspaces yet/)).toBeVisible();
  await page.getByLabel("New workspace").fill(name);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await expect(page.getByText(/No campaigns yet/)).toBeVisible();
}

async function createCampaign(page: Page, name: string, goal: string) {
  await page.getByLabel("New campaign").fill(name);
  await page.getByLabel("Goal").fill(goal);
  await page.getByRole("button", { name: "Create campaign" }).click();
}

async function addMove(page: Page, title: string) {
  await page.getByLabel("New move").fill(title);
  await page.getByRole("button", { name: "Add move" }).click();
}

test("creates a workspace and edits its brand codex", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await page.getByText("Brand codex", { exact: true }).click();
  await page.getByLabel("Company").fill("Acme Analytics");
  await page.getByLabel("Offer").fill("Dashboards for small retailers");
  await page.getByLabel("Banned terms").fill("guaranteed\nbest in the world");
  await page.getByLabel("Required disclaimers").fill("Terms apply.");
  await page.getByRole("button", { name: "Save brand codex" }).click();
  await expect(page.getByRole("status")).toHaveText("Saved");
  // What was saved is what the engine returns when the screen is opened again.
  await page.getByText("Workspaces", { exact: true }).click();
  await page.getByText("Brand codex", { exact: true }).click();
  await expect(page.getByLabel("Banned terms")).toHaveValue("guaranteed\nbest in the world");
});

test("adds a campaign and moves, drags a move across the board and edits the campaign", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await createCampaign(page, "Spring launch", "200 demo requests");
  for (const title of ["Webinar invite", "Launch post"]) {
    await addMove(page, title);
    await expect(page.getByRole("listitem", { name: "Planned column" }).getByText(title)).toBeVisible();
  }
  const card = page.getByRole("listitem", { name: "Planned column" }).getByLabel(/Launch post, Planned/);
  await card.dragTo(page.getByRole("listitem", { name: "Review column" }));
  await expect(page.getByRole("listitem", { name: "Review column" }).getByLabel(/Launch post, Review/)).toBeVisible();
  await expect(page.getByRole("listitem", { name: "Planned column" }).getByLabel(/Webinar invite, Planned/)).toBeVisible();

  await page.getByRole("button", { name: "Edit campaign" }).click();
  await page.getByLabel("Campaign goal").fill("");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByText("campaign goal: must not be empty")).toBeVisible();
  await page.getByLabel("Campaign goal").fill("300 demo requests");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByText("300 demo requests")).toBeVisible();
});

test("writes an asset until Guardian passes, then approves it", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await page.getByText("Brand codex", { exact: true }).click();
  await page.getByLabel("Banned terms").fill("guaranteed");
  await page.getByLabel("Required disclaimers").fill("Terms apply.");
  await page.getByRole("button", { name: "Save brand codex" }).click();
  await expect(page.getByRole("status")).toHaveText("Saved");
  await page.getByText("Campaigns", { exact: true }).click();
  await createCampaign(page, "Spring launch", "Leads");

  await page.getByLabel("Kind").selectOption("x_post");
  await page.getByRole("button", { name: "New asset" }).click();
  const editor = page.getByLabel("Asset editor");
  const post = editor.getByLabel("Post");
  await post.fill("Guaranteed growth for every store. " + "Really. ".repeat(40));
  await expect(editor.getByText(/\d+ \/ 280/)).toHaveAttribute("data-over", "true");
  await expect(editor.getByLabel("Guardian: block")).toBeVisible();
  await expect(editor.getByText(/"guaranteed" is a banned term/)).toBeVisible();
  await expect(editor.getByText(/add the required disclaimer "Terms apply."/)).toBeVisible();
  await editor.getByRole("button", { name: "Save asset" }).click();
  await expect(editor.getByRole("button", { name: "Approve" })).toBeDisabled();
  await editor.getByLabel("Review note").fill("Drop the guarantee and add the disclaimer.");
  await editor.getByRole("button", { name: "Request changes" }).click();
  await expect(editor.getByText("Changes requested", { exact: true })).toBeVisible();

  await post.fill("Growth dashboards for every store, set up in a day. Terms apply.");
  await expect(editor.getByLabel("Guardian: pass")).toBeVisible();
  await expect(editor.getByText("64 / 280")).toBeVisible();
  await editor.getByRole("button", { name: "Save changes" }).click();
  await editor.getByRole("button", { name: "Approve" }).click();
  await expect(editor.getByText("Approved", { exact: true })).toBeVisible();
  await expect(page.getByText("Guardian passes")).toBeVisible();
  // Posting is offered only for an approved X post, and keeps the post's address.
  await editor.getByRole("button", { name: "Post to X" }).click();
  await expect(editor.getByLabel("Published")).toContainText("https://x.com/i/web/status/18666");
  await expect(editor.getByText("Published", { exact: true })).toBeVisible();
  await expect(editor.getByRole("button", { name: "Post to X" })).toHaveCount(0);
});

test("posts an approved LinkedIn post, and designs an image brief in Canva and exports it", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await createCampaign(page, "Spring launch", "Leads");

  await page.getByLabel("Kind").selectOption("linkedin_post");
  await page.getByRole("button", { name: "New asset" }).click();
  let editor = page.getByLabel("Asset editor");
  await editor.getByLabel("Post").fill("Growth dashboards for every store (set up in a day). #retail");
  await editor.getByRole("button", { name: "Save asset" }).click();
  await expect(editor.getByRole("button", { name: "Post to LinkedIn" })).toHaveCount(0);
  await editor.getByRole("button", { name: "Approve" }).click();
  await editor.getByRole("button", { name: "Post to LinkedIn" }).click();
  await expect(editor.getByLabel("Published")).toContainText("https://www.linkedin.com/feed/update/urn:li:share:74049");
  await expect(editor.getByRole("button", { name: "Post to LinkedIn" })).toHaveCount(0);
  await editor.getByRole("button", { name: "Close" }).click();

  await page.getByLabel("Kind").selectOption("image_brief");
  await page.getByRole("button", { name: "New asset" }).click();
  editor = page.getByLabel("Asset editor");
  await expect(editor.getByRole("button", { name: "Design in Canva" })).toHaveCount(0);
  await editor.getByLabel("Concept").fill("A store owner reading a dashboard at the counter");
  await editor.getByLabel("Aspect ratio").fill("4:5");
  await editor.getByLabel("Alt text").fill("A shop owner looks at sales on a tablet");
  await editor.getByRole("button", { name: "Save asset" }).click();
  await editor.getByRole("button", { name: "Design in Canva" }).click();
  await expect(editor.getByLabel("Canva design")).toContainText("https://www.canva.com/api/design/DAF");
  await expect(editor.getByRole("button", { name: "Design in Canva" })).toHaveCount(0);
  await editor.getByRole("button", { name: "Export PNG" }).click();
  await expect(editor.getByLabel("Exported")).toContainText(/Downloads\/RaptorFlow\/.*\.png/);
});

test("imports by the file dialog and by dropping, and opens a search hit in its source", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await fake(page, (f) => {
    f.files.set("/docs/pricing.md", "# Pricing\n\nStarter costs 49 dollars a month.\n\nPro adds forecasting for 99 dollars a month.");
    f.files.set("/docs/voice.md", "# Voice\n\nPlain words, short sentences.");
    f.dialogAnswer = ["/docs/pricing.md", "/docs/missing.md"];
  });
  await page.getByText("Codex", { exact: true }).click();
  await expect(page.getByText(/Nothing imported yet/)).toBeVisible();
  await page.getByRole("button", { name: "Choose files…" }).click();
  const result = page.getByRole("status", { name: "Import result" });
  await expect(result).toContainText("/docs/pricing.md: imported");
  await expect(result).toContainText("/docs/missing.md: failed — /docs/missing.md: no such file");
  await expect(page.getByLabel("Progress of /docs/pricing.md")).toBeVisible();

  await fake(page, (f) => f.dropFiles(["/docs/voice.md"]));
  await expect(result).toContainText("/docs/voice.md: imported");
  await expect(page.getByText("voice.md", { exact: true })).toBeVisible();

  await page.getByLabel("Search the Codex").fill("forecasting price");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const hit = page.getByLabel("Passage 1");
  await expect(hit).toContainText("Pro adds forecasting");
  await hit.getByRole("button", { name: "Open in source" }).click();
  await expect(page.getByLabel("Source pricing.md").locator("mark")).toHaveText("Pro adds forecasting for 99 dollars a month.");
});

test("streams an answer in Ask and stops it", async ({ page }) => {
  await page.goto("/");
  await fake(page, (f) => {
    f.answer = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";
    f.wordDelayMs = 150;
  });
  await page.getByText("Ask", { exact: true }).click();
  await page.getByRole("textbox", { name: "Question" }).fill("How should we price the Pro plan?");
  await page.getByRole("form", { name: "Ask form" }).getByRole("button", { name: "Ask" }).click();
  const answer = page.getByLabel("Answer");
  await expect(answer).toContainText("one two three");
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByRole("status")).toContainText("Stopped.");
  await expect(page.getByRole("status")).toContainText("local smollm2");
  const text = await answer.innerText();
  expect(text).not.toContain("twenty");
});

test("swarm: the roster by guild, a run's steps live with streamed text, then approval", async ({ page }) => {
  await page.goto("/");
  await fake(page, (f) => {
    f.answer = "Remote workers who miss their cafe buy subscriptions after a bad supermarket bag and a payday";
    f.wordDelayMs = 120;
  });
  await page.getByText("Swarm", { exact: true }).click();
  await expect(page.getByRole("tab", { name: /Council of Lords/ })).toBeVisible();
  await expect(page.getByRole("table", { name: "Council of Lords agents" })).toContainText("LORD-002");
  await page.getByRole("tab", { name: /Research/ }).click();
  await expect(page.getByRole("table", { name: "Research agents" })).toContainText("Market Researcher");
  await page.getByLabel("Agent", { exact: true }).selectOption("RES-001");
  await expect(page.getByLabel(/Input \(JSON/)).toHaveValue(/Fernhill Coffee Roasters/);
  await page.getByRole("button", { name: "Start run" }).click();
  // The running step's answer streams in, then the step is done and the run waits.
  await expect(page.getByLabel("Step 1 answer so far")).toContainText("Remote workers");
  await expect(page.getByLabel("Run status")).toHaveText("running");
  await expect(page.getByLabel("Step 1").getByText("done", { exact: true })).toBeVisible();
  await expect(page.getByLabel("Run status")).toHaveText("paused");
  await expect(page.getByLabel("Step 2")).toContainText("Use this answer?");
  await page.getByLabel("Step 2").getByLabel("Note").fill("good enough");
  await page.getByLabel("Step 2").getByRole("button", { name: "Approve" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("finished");
  await expect(page.getByRole("table", { name: "Runs" })).toContainText("RES-001 Market Researcher");
});

test("swarm: a step that dies goes to the dead letters, retry finishes it; bad input is refused", async ({ page }) => {
  await page.goto("/");
  await fake(page, (f) => {
    f.answer = "on voice";
    f.wordDelayMs = 20;
  });
  await page.getByText("Swarm", { exact: true }).click();
  await page.getByLabel("Agent", { exact: true }).selectOption("GRD-007");
  await page.getByLabel(/Input \(JSON/).fill("{ not json");
  await page.getByRole("button", { name: "Start run" }).click();
  await expect(page.getByRole("alert")).toContainText("input: not JSON");
  await page.getByLabel(/Input \(JSON/).fill('{"company": "Fernhill Coffee Roasters", "offer": "Coffee by subscription"}');
  await page.getByLabel("Budget (USD, optional)").fill("lots");
  await page.getByRole("button", { name: "Start run" }).click();
  await expect(page.getByRole("alert")).toContainText("budget: 'lots' is not an amount");
  await page.getByLabel("Budget (USD, optional)").fill("0.50");
  await page.getByRole("button", { name: "Start run" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("blocked");
  await expect(page.getByLabel("Dead letter GRD-007 Brand Voice Compliance Checker")).toContainText("the local model crashed");
  await page.getByLabel("Step 1").getByRole("button", { name: "Retry" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("paused");
  await expect(page.getByText(/None: every step that failed/)).toBeVisible();
  await page.getByLabel("Step 2").getByRole("button", { name: "Reject" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("failed");
  await expect(page.getByText(/was rejected/)).toBeVisible();
});

test("settings: theme, privacy, and a provider whose key is stored but never shown", async ({ page }) => {
  await page.goto("/");
  await page.getByText("Settings", { exact: true }).click();
  await page.getByRole("radiogroup", { name: "Theme" }).getByText("Dark").click();
  await expect(page.locator("html")).toHaveAttribute("data-mantine-color-scheme", "dark");
  await page.getByRole("radiogroup", { name: "Privacy mode" }).getByText("Offline only").click();
  await expect(page.getByText("Local models only; nothing leaves this machine.")).toBeVisible();
  await page.getByRole("textbox", { name: "Threads" }).fill("1");
  await page.getByLabel("Thread setting").getByRole("button", { name: "Save" }).click();
  await expect(page.getByLabel("Thread setting")).toContainText("1 saved; 2 in use now");

  await page.getByLabel("Provider name").fill("Not A Name");
  await page.getByRole("button", { name: "Add provider" }).click();
  await expect(page.getByText(/provider name: 'Not A Name'/)).toBeVisible();
  await page.getByLabel("Provider name").fill("openai");
  await page.getByLabel("Model", { exact: true }).fill("gpt-4o-mini");
  await page.getByLabel("API key").fill("sk-test-123");
  await page.getByRole("button", { name: "Add provider" }).click();
  const row = page.getByRole("table", { name: "Providers" }).getByRole("row", { name: /openai/ });
  await expect(row).toContainText("in the OS keyring");
  await expect(page.getByLabel("API key")).toHaveValue("");
  await expect(page.getByText("sk-test-123")).toHaveCount(0);
});

test("settings: the local API is turned on, moved and shown with its token; MCP servers are added by command and URL, listed and removed", async ({ page }) => {
  await page.goto("/");
  await page.getByText("Settings", { exact: true }).click();
  const api = page.getByLabel("Local API");
  await expect(api.getByLabel("API status")).toHaveText("Off");
  await api.getByLabel("Run the local API").click();
  await expect(api.getByLabel("API status")).toContainText("http://127.0.0.1:7420/v1");
  // A port the system keeps is refused at the field; a port in use says why, and nothing changes.
  await api.getByRole("textbox", { name: "Port" }).fill("80");
  await api.getByRole("button", { name: "Use this port" }).click();
  await expect(api.getByText(/80 is reserved for the system/)).toBeVisible();
  await api.getByRole("textbox", { name: "Port" }).fill("7999");
  await api.getByRole("button", { name: "Use this port" }).click();
  await expect(api.getByRole("alert")).toContainText("Address already in use");
  await expect(api.getByLabel("API status")).toContainText("http://127.0.0.1:7420/v1");
  await api.getByRole("textbox", { name: "Port" }).fill("7421");
  await api.getByRole("button", { name: "Use this port" }).click();
  await expect(api.getByLabel("API status")).toContainText("http://127.0.0.1:7421/v1");
  await expect(api.getByLabel("API status")).toContainText("http://127.0.0.1:7421/mcp");
  await api.getByRole("button", { name: "Show the API token" }).click();
  await expect(api.getByLabel("API token")).toHaveText("rf-fake0123456789abcdef");
  await api.getByRole("button", { name: "Hide" }).click();
  await expect(page.getByText("rf-fake0123456789abcdef")).toHaveCount(0);
  await api.getByLabel("Run the local API").click();
  await expect(api.getByLabel("API status")).toHaveText("Off");

  const mcp = page.getByLabel("MCP servers");
  await expect(mcp.getByText("None added.")).toBeVisible();
  const form = page.getByRole("form", { name: "Add an MCP server" });
  await form.getByLabel("Server name").fill("facts");
  await form.getByRole("button", { name: "Add server" }).click();
  await expect(form.getByText(/give the program that starts the server/)).toBeVisible();
  await form.getByRole("textbox", { name: "Program" }).fill("python3");
  await form.getByLabel("Arguments, one per line").fill("/opt/facts/server.py\n--verbose");
  await form.getByRole("button", { name: "Add server" }).click();
  const servers = page.getByRole("table", { name: "Added MCP servers" });
  await expect(servers.getByRole("row", { name: /facts/ })).toContainText("python3 /opt/facts/server.py --verbose");
  await servers.getByRole("button", { name: "Tools of facts" }).click();
  await expect(page.getByLabel("Tools of server facts")).toContainText("mcp:facts/lookup");

  await form.getByRole("radiogroup", { name: "Reached by" }).getByText("URL").click();
  await form.getByLabel("Server name").fill("crm");
  await form.getByRole("textbox", { name: "Server URL" }).fill("ftp://crm.example.com");
  await form.getByRole("button", { name: "Add server" }).click();
  await expect(form.getByText(/must be an http:\/\/ or https:\/\/ address/)).toBeVisible();
  await form.getByRole("textbox", { name: "Server URL" }).fill("https://crm.example.com/mcp");
  await form.getByLabel("Bearer token (optional)").fill("crm-secret-token");
  await form.getByRole("button", { name: "Add server" }).click();
  await expect(servers.getByRole("row", { name: /crm/ })).toContainText("token in the OS keyring");
  await expect(form.getByLabel("Bearer token (optional)")).toHaveValue("");
  await expect(page.getByText("crm-secret-token")).toHaveCount(0);
  await servers.getByRole("button", { name: "Remove facts" }).click();
  await expect(servers.getByRole("row")).toHaveCount(1);
});

test("integrations: a key is stored but never shown, tested and removed; signals are fetched and charted with their forecast band", async ({ page }) => {
  await createWorkspace(page, "Fernhill");
  await page.getByText("Intelligence", { exact: true }).click();
  await expect(page.getByText(/No signals yet/)).toBeVisible();
  await page.getByRole("button", { name: "Fetch signals now" }).click();
  await expect(page.getByText(/no news connector is configured/)).toBeVisible();

  await page.getByText("Integrations", { exact: true }).click();
  const table = page.getByRole("table", { name: "Connectors" });
  await expect(table.getByRole("row", { name: "Google Trends" })).toContainText("no generally available Trends API");
  await expect(table.getByRole("row", { name: "X" })).toContainText("raptorflow connectors auth x --client-id ID");
  await expect(table.getByRole("row", { name: "Google Trends" })).toContainText("not available yet");
  await expect(table.getByRole("row", { name: "LinkedIn" })).toContainText("raptorflow connectors auth linkedin --client-id ID --client-secret-stdin");
  await expect(table.getByRole("row", { name: "Canva" })).toContainText("raptorflow connectors auth canva --client-id ID --client-secret-stdin");
  await expect(table.getByRole("row", { name: "Semrush" })).toContainText("$0.00005 per API unit");
  await expect(table.getByRole("row", { name: "Brave Search" })).toContainText("$0.005 per call");
  const news = table.getByRole("row", { name: "NewsAPI" });
  await expect(news).toContainText("not configured");
  await news.getByRole("button", { name: "Add key" }).click();
  const form = page.getByRole("form", { name: "Configure NewsAPI" });
  await form.getByLabel("Base URL (optional)").fill("ftp://proxy");
  await form.getByLabel("NewsAPI API key").fill("news-secret-123");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(form.getByText(/it must be an http or https URL/).first()).toBeVisible();
  await form.getByLabel("Base URL (optional)").fill("");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(news).toContainText("key stored");
  await expect(page.getByText("news-secret-123")).toHaveCount(0);
  await news.getByRole("button", { name: "Test" }).click();
  await expect(news).toContainText("Test: 1 result in 120 ms · Folding bikes sell out as commuters return");
  await expect(news).toContainText(/1 call(?!s)/);

  await page.getByText("Intelligence", { exact: true }).click();
  await page.getByRole("button", { name: "Fetch signals now" }).click();
  await expect(page.getByRole("status")).toContainText("Recorded 1 value: 1 call sent");
  const chart = page.getByRole("img", { name: "Chart of mentions/newsapi/Fernhill" });
  await expect(chart).toBeVisible();
  await expect(chart.getByTestId("forecast-band")).toHaveCount(1);
  await expect(chart.getByTestId("change-point")).toHaveCount(1);
  await expect(page.getByText(/Forecast 14 days \(MSTL\(7\) \+ AutoETS\), shaded: 80 % interval/)).toBeVisible();
  await expect(page.getByRole("list", { name: "Reading" })).toContainText("mentions/newsapi/Fernhill is expected at");

  await page.getByText("Integrations", { exact: true }).click();
  await news.getByRole("button", { name: "Remove" }).click();
  await expect(news).toContainText("not configured");
});

test("integrations: signs in to LinkedIn from the app with the app's id and secret, and signs out", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await page.getByText("Integrations", { exact: true }).click();
  const row = page.getByRole("table", { name: "Connectors" }).getByRole("row", { name: "LinkedIn" });
  await expect(row).toContainText("not configured");
  await row.getByRole("button", { name: "Sign in" }).click();
  const form = page.getByRole("form", { name: "Sign in to LinkedIn" });
  await expect(form).toContainText("http://127.0.0.1:8757/callback");
  await form.getByLabel("Client ID").fill("li-client");
  await form.getByLabel("Page id (optional)").fill("acme");
  // The secret is required: the browser's own check stops the form first.
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(form.getByLabel("Client secret")).toHaveJSProperty("validity.valueMissing", true);
  await form.getByLabel("Client secret").fill("li-secret");
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(form.getByText(/is not a LinkedIn organisation id/).first()).toBeVisible();
  await expect(form.getByLabel("Page id (optional)")).toHaveAttribute("aria-invalid", "true");
  await form.getByLabel("Page id (optional)").fill("2414183");
  // A sign-in nobody approves can be cancelled; nothing is stored.
  await form.getByLabel("Client ID").fill("slow");
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(form.getByLabel("Sign-in address")).toContainText("Approve in the browser window that opened");
  await form.getByRole("button", { name: "Cancel" }).click();
  await expect(form.getByText("the sign-in was cancelled; nothing was stored")).toBeVisible();
  await expect(row).toContainText("not configured");
  await form.getByLabel("Client ID").fill("li-client");
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(form.getByLabel("Sign-in address")).toContainText("Approve in the browser window that opened");
  await expect(row).toContainText("signed in");
  await expect(form).toHaveCount(0);
  // The secret is not kept on the page.
  await expect(page.locator("body")).not.toContainText("li-secret");
  await row.getByRole("button", { name: "Sign out" }).click();
  await expect(row).toContainText("not configured");
});

test("costs: charts by day, model and agent, and a budget with its warning", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await page.getByText("Costs", { exact: true }).click();
  await expect(page.getByRole("status")).toContainText("in 4 calls");
  await expect(page.getByLabel("Spend by day").locator("svg.recharts-surface")).toBeVisible();
  await expect(page.getByLabel("Spend by model")).toContainText("gpt-4o-mini");
  await page.getByLabel("Monthly budget in USD").fill("lots");
  await page.getByRole("button", { name: "Set budget" }).click();
  await expect(page.getByText("budget: 'lots' is not an amount such as 50 or 12.50")).toBeVisible();
  await page.getByLabel("Monthly budget in USD").fill("0.002");
  await page.getByRole("button", { name: "Set budget" }).click();
  await expect(page.getByText("Over 80 % of this month's budget is spent.")).toBeVisible();
});

test("models: a download shows progress, can be cancelled, completes when started again, and the new model can be put to use", async ({ page }) => {
  await page.goto("/");
  await fake(page, (f) => {
    f.wordDelayMs = 150;
  });
  await page.getByText("Models", { exact: true }).click();
  await page.getByRole("button", { name: "Download SmolLM2 360M Instruct" }).click();
  await expect(page.getByLabel("Download of smollm2-360m-instruct-q8_0")).toBeVisible();
  await expect(page.getByText(/model.gguf: .* of 386.0 MB/)).toBeVisible();
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("status")).toContainText("Download cancelled");
  await fake(page, (f) => {
    f.wordDelayMs = 10;
  });
  await page.getByRole("button", { name: "Download SmolLM2 360M Instruct" }).click();
  await expect(page.getByRole("row", { name: /SmolLM2 360M Instruct/ })).toContainText("Installed");
  // The agents' local LLM: the default until another is chosen.
  await expect(page.getByLabel("SmolLM2 135M Instruct is in use")).toBeVisible();
  await page.getByRole("button", { name: "Use SmolLM2 360M Instruct" }).click();
  await expect(page.getByLabel("SmolLM2 360M Instruct is in use")).toBeVisible();
  await expect(page.getByRole("button", { name: "Use SmolLM2 135M Instruct" })).toBeVisible();
  await expect(page.getByRole("button", { name: /Use all-MiniLM/ })).toHaveCount(0);
});

test("team: members and their roles, and how to start syncing", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await page.getByText("Team", { exact: true }).click();
  await expect(page.getByLabel("Sync", { exact: true })).toContainText("on this device only");
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await expect(page.getByText("server: type the server's address")).toBeVisible();
  await page.getByRole("textbox", { name: "Server" }).fill("https://sync.example.com");
  await page.getByLabel("Token", { exact: true }).fill("rf_test_token");
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("Could not reach the server");
  await page.getByLabel("Role of Me").selectOption("editor");
  await page.getByText("Workspaces", { exact: true }).click();
  await page.getByText("Team", { exact: true }).click();
  await expect(page.getByLabel("Role of Me")).toHaveValue("editor");
  // The quiet gamification panel: nobody has done anything yet.
  await expect(page.getByLabel("Points")).toContainText("Me: 0 points · 0-day streak");
});

test("team: joining a sync server and syncing now show the documents' progress", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await fake(page, (f) => {
    f.wordDelayMs = 200;
  });
  await page.getByText("Team", { exact: true }).click();
  await page.getByRole("textbox", { name: "Server" }).fill("https://sync.fake.test");
  await page.getByLabel("Token", { exact: true }).fill("rf_test_token");
  await page.getByRole("button", { name: "Join", exact: true }).click();
  const progress = page.getByRole("status", { name: "Sync progress" });
  await expect(progress).toContainText(/Syncing: (9|17|25|33) of 40 documents/);
  await expect(page.getByLabel("Sync", { exact: true })).toContainText("Synced with https://sync.fake.test as me (owner)");
  await expect(progress).toHaveCount(0);
  await page.getByRole("button", { name: "Sync now" }).click();
  await expect(progress).toContainText(/Syncing: (9|17|25|33) of 40 documents/);
  await expect(progress).toHaveCount(0);
  await expect(page.getByLabel("Sync", { exact: true })).toContainText("Last sync");
});

test("onboarding: the intake, then the swarm live with streamed text, then approving the brand codex", async ({ page }) => {
  await createWorkspace(page, "Fernhill");
  await fake(page, (f) => {
    f.answer = "Home workers who buy supermarket beans and want fresher coffee";
    f.wordDelayMs = 60;
  });
  await page.getByText("Onboarding", { exact: true }).click();
  await page.getByLabel("Company").fill("Fernhill Coffee Roasters");
  await page.getByLabel("What it sells, and to whom").fill("Coffee roasted to order, by subscription");
  await page.getByLabel("Website").fill("https://fernhill.coffee");
  await page.getByLabel("Competitors (one per line)").fill("Roastworks Direct\nKettle & Crane");
  await page.getByLabel("Email").check();
  await page.getByLabel("Spend limit for this run (USD, optional)").fill("lots");
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await expect(page.getByRole("alert")).toContainText("budget: 'lots' is not an amount");
  await page.getByLabel("Spend limit for this run (USD, optional)").fill("");
  await page.getByRole("button", { name: "Start onboarding" }).click();
  // Each agent's step as it runs, its text streaming in; then the approval waits.
  await expect(page.getByLabel("Step 1 answer so far")).toContainText("Home workers");
  await expect(page.getByLabel("Step 2")).toContainText("LORD-002.brand-codex Cognition");
  await expect(page.getByLabel("Run status")).toHaveText("paused", { timeout: 20_000 });
  await expect(page.getByLabel("Step 4")).toContainText("Approve the brand codex drafted for Fernhill Coffee Roasters?");
  await page.getByLabel("Step 4").getByRole("button", { name: "Approve" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("finished");
});

test("approvals inbox: a plan's and a sweep's approvals wait together; one approved, one rejected", async ({ page }) => {
  await createWorkspace(page, "Fernhill");
  await fake(page, (f) => {
    f.answer = "noted";
    f.wordDelayMs = 10;
  });
  await page.getByText("Intelligence", { exact: true }).click();
  await expect(page.getByText(/No digest shared yet/)).toBeVisible();
  await page.getByLabel(/What the team saw/).fill("{ not json");
  await page.getByRole("button", { name: "Run the sweep" }).click();
  await expect(page.getByRole("alert")).toContainText("notes: not JSON");
  await page.getByLabel(/What the team saw/).fill("");
  await page.getByRole("button", { name: "Run the sweep" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("paused");
  await page.getByText("Campaigns", { exact: true }).click();
  await createCampaign(page, "January routines", "1,500 new subscribers");
  await page.getByRole("button", { name: "Plan campaign" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("paused");

  await page.getByText("Swarm", { exact: true }).click();
  const inbox = page.getByLabel("Approvals inbox");
  await expect(inbox.getByLabel(/^Waiting: /)).toHaveCount(2);
  await inbox.getByLabel("Waiting: Approve the plan with its moves and forecast?").getByRole("button", { name: "Approve" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("finished");
  const digest = inbox.getByLabel("Waiting: Share the digest with the team?");
  await digest.getByLabel("Note").fill("not this week");
  await digest.getByRole("button", { name: "Reject" }).click();
  await expect(page.getByLabel("Run status")).toHaveText("failed");
  await expect(inbox.getByText("Nothing waits for you.")).toBeVisible();
});

test("every screen's controls have names (axe: labels, buttons, selects, ARIA)", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await createCampaign(page, "Spring launch", "Leads");
  await addMove(page, "Webinar invite");
  await page.getByRole("button", { name: "New asset" }).click();
  const screens = ["Workspaces", "Onboarding", "Brand codex", "Campaigns", "Codex", "Intelligence", "Ask", "Costs", "Team", "Models", "Integrations", "Settings", "Swarm"];
  const problems: string[] = [];
  for (const screen of screens) {
    await page.getByText(screen, { exact: true }).first().click();
    await page.waitForTimeout(300);
    const result = await new AxeBuilder({ page })
      .withRules(["label", "button-name", "select-name", "link-name", "aria-allowed-attr", "aria-required-attr", "aria-valid-attr-value", "duplicate-id-aria", "nested-interactive"])
      .analyze();
    for (const violation of result.violations) {
      problems.push(`${screen}: ${violation.id} (${violation.nodes.length}): ${violation.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
  }
  expect(problems).toEqual([]);
});

test("the keyboard reaches the board's controls and moves a card", async ({ page }) => {
  await createWorkspace(page, "Acme Analytics");
  await createCampaign(page, "Spring launch", "Leads");
  await addMove(page, "Webinar invite");
  await expect(page.getByRole("listitem", { name: "Planned column" }).getByLabel(/Webinar invite, Planned/)).toBeVisible();
  // Tab from the move form until the move card has focus.
  await page.getByLabel("New move").focus();
  const reached: string[] = [];
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press("Tab");
    const name = await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.textContent ?? "");
    reached.push(name.slice(0, 40));
    if (name.startsWith("Webinar invite, Planned")) break;
  }
  expect(reached).toContain("Add move");
  expect(reached.at(-1)).toMatch(/^Webinar invite, Planned/);
  await page.keyboard.press("Alt+ArrowRight");
  await expect(page.getByRole("listitem", { name: "In progress column" }).getByLabel(/Webinar invite, In progress/)).toBeVisible();
});

test("the navigation works from the keyboard", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Settings" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Ask" }).focus();
  await page.keyboard.press("Space");
  await expect(page.getByRole("heading", { name: "Ask" })).toBeVisible();
});
