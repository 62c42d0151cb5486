import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { clearMocks } from "@tauri-apps/api/mocks";

import { App } from "./App";
import { createFakeBackend, installFake, type FakeBackend } from "./fake/backend";

// The app runs its real IPC code (the generated bindings) against Tauri's
// IPC mock, answered by the fake backend.
function renderApp(backend: FakeBackend = installFake(createFakeBackend())): FakeBackend {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <MantineProvider>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </MantineProvider>,
  );
  return backend;
}

afterEach(() => {
  // Unmount first: the app unsubscribes from events through the mock.
  cleanup();
  clearMocks();
});

describe("the app", () => {
  it("creates a workspace, a campaign and a move, and moves the card with the keyboard", async () => {
    const user = userEvent.setup();
    const engine = renderApp();

    expect(await screen.findByText(/No workspaces yet/)).toBeTruthy();
    await user.type(screen.getByLabelText(/New workspace/), "Acme Analytics");
    await user.click(screen.getByRole("button", { name: "Create" }));

    expect(await screen.findByText(/No campaigns yet/)).toBeTruthy();
    await user.type(screen.getByLabelText(/New campaign/), "Spring launch");
    await user.type(screen.getByLabelText(/Goal/), "200 demo requests");
    await user.click(screen.getByRole("button", { name: "Create campaign" }));

    await user.type(await screen.findByLabelText(/New move/), "Webinar invite");
    await user.click(screen.getByRole("button", { name: "Add move" }));
    const planned = await screen.findByRole("listitem", { name: "Planned column" });
    const card = await within(planned).findByLabelText(/Webinar invite, Planned/);

    card.focus();
    await user.keyboard("{Alt>}{ArrowRight}{/Alt}");
    const inProgress = screen.getByRole("listitem", { name: "In progress column" });
    await waitFor(() => expect(within(inProgress).getByLabelText(/Webinar invite, In progress/)).toBeTruthy());
    expect(engine.calls).toContain("move_set_status");
  });

  it("shows the engine's field error beside the field and changes nothing", async () => {
    const user = userEvent.setup();
    const engine = renderApp();
    const input = await screen.findByLabelText(/New workspace/);
    await user.type(input, "   ");
    await user.click(screen.getByRole("button", { name: "Create" }));
    expect(await screen.findByText("workspace name: must not be empty")).toBeTruthy();
    expect(await engine.commands.workspaceList()).toEqual([]);
  });

  it("keeps the screens that need a workspace disabled until one is open", async () => {
    const user = userEvent.setup();
    const engine = installFake(createFakeBackend());
    await engine.commands.workspaceCreate("Fernhill");
    renderApp(engine);
    const nav = await screen.findByRole("navigation", { name: "Main" });
    for (const name of ["Onboarding", "Campaigns", "Intelligence"]) {
      expect(within(nav).getByText(name).closest("[data-disabled]")).not.toBeNull();
    }
    await user.click(await screen.findByRole("button", { name: "Open Fernhill" }));
    // (The screens themselves are tested in a real browser: e2e/app.spec.ts.)
    for (const name of ["Onboarding", "Campaigns", "Intelligence"]) {
      await waitFor(() => expect(within(screen.getByRole("navigation", { name: "Main" })).getByText(name).closest("[data-disabled]")).toBeNull());
    }
  });
});

describe("changes made elsewhere", () => {
  it("moves the card when another process changes the move's status", async () => {
    const user = userEvent.setup();
    const engine = installFake(createFakeBackend());
    const ws = await engine.commands.workspaceCreate("Acme");
    const campaign = await engine.commands.campaignCreate(ws.id, { name: "Launch", goal: "Leads", channels: [] });
    const saved = await engine.commands.moveAdd(campaign.id, { title: "Press release", channel: "pr", due_date: null });
    renderApp(engine);
    await user.click(await screen.findByRole("button", { name: "Open Acme" }));
    await within(await screen.findByRole("listitem", { name: "Planned column" })).findByLabelText(/Press release, Planned/);

    await engine.setMoveStatusElsewhere(saved.id, "live");
    const live = screen.getByRole("listitem", { name: "Live column" });
    await waitFor(() => expect(within(live).getByLabelText(/Press release, Live/)).toBeTruthy());
  });
});
