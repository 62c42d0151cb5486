// The app's frame: navigation on the left, the chosen screen on the right.
import { AppShell, NavLink, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { useEngine } from "./engine-context";
import { Ask } from "./screens/Ask";
import { Campaigns } from "./screens/Board";
import { Brand } from "./screens/Brand";
import { Codex } from "./screens/Codex";
import { Costs } from "./screens/Costs";
import { Integrations } from "./screens/Integrations";
import { Intelligence } from "./screens/Intelligence";
import { Models } from "./screens/Models";
import { Onboarding } from "./screens/Onboarding";
import { Settings } from "./screens/Settings";
import { Swarm } from "./screens/Swarm";
import { Team } from "./screens/Team";
import { Workspaces } from "./screens/Workspaces";

type Screen = "workspaces" | "onboarding" | "brand" | "campaigns" | "codex" | "intelligence" | "ask" | "swarm" | "costs" | "models" | "integrations" | "settings" | "team";

export function App() {
  const [screen, setScreen] = useState<Screen>("workspaces");
  const [workspace, setWorkspace] = useState<string | null>(null);
  const engine = useEngine();
  const queryClient = useQueryClient();
  // Whatever changed the data (this window, the CLI, a teammate), every
  // screen re-reads what it shows.
  useEffect(() => {
    let unsubscribe: (() => void) | undefined;
    let cancelled = false;
    void engine.onChange(() => void queryClient.invalidateQueries()).then((stop) => {
      if (cancelled) stop();
      else unsubscribe = stop;
    });
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  }, [engine, queryClient]);

  const nav = (id: Screen, label: string, disabled = false) => (
    <NavLink component="button" type="button" key={id} label={label} active={screen === id} disabled={disabled} onClick={() => setScreen(id)} aria-current={screen === id ? "page" : undefined} />
  );

  return (
    <AppShell navbar={{ width: 220, breakpoint: 0 }} padding="md">
      <AppShell.Navbar p="sm" aria-label="Main">
        <Title order={4} mb="sm">
          RaptorFlow
        </Title>
        {nav("workspaces", "Workspaces")}
        {nav("onboarding", "Onboarding", workspace === null)}
        {nav("brand", "Brand codex", workspace === null)}
        {nav("campaigns", "Campaigns", workspace === null)}
        {nav("codex", "Codex", workspace === null)}
        {nav("intelligence", "Intelligence", workspace === null)}
        {nav("ask", "Ask")}
        {nav("swarm", "Swarm")}
        {nav("costs", "Costs", workspace === null)}
        {nav("team", "Team", workspace === null)}
        {nav("models", "Models")}
        {nav("integrations", "Integrations")}
        {nav("settings", "Settings")}
      </AppShell.Navbar>
      <AppShell.Main>
        {screen === "workspaces" && (
          <Workspaces
            selected={workspace}
            onSelect={(id) => {
              setWorkspace(id);
              setScreen("campaigns");
            }}
          />
        )}
        {screen === "brand" && workspace && <Brand workspaceId={workspace} />}
        {screen === "campaigns" && workspace && <Campaigns workspaceId={workspace} />}
        {screen === "codex" && workspace && <Codex workspaceId={workspace} />}
        {screen === "ask" && <Ask workspaceId={workspace} />}
        {screen === "swarm" && <Swarm workspaceId={workspace} />}
        {screen === "costs" && workspace && <Costs workspaceId={workspace} />}
        {screen === "team" && workspace && <Team workspaceId={workspace} />}
        {screen === "models" && <Models />}
        {screen === "settings" && <Settings />}
        {screen === "integrations" && <Integrations />}
        {screen === "onboarding" && workspace && <Onboarding workspaceId={workspace} />}
        {screen === "intelligence" && workspace && <Intelligence workspaceId={workspace} />}
      </AppShell.Main>
    </AppShell>
  );
}
