import "@mantine/core/styles.css";
import "@mantine/charts/styles.css";

import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";

const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } } });

async function start(root: HTMLElement) {
  // The browser tests' build (`vite build --mode e2e`) answers the IPC with
  // the fake backend; in every other build this branch is removed.
  if (import.meta.env.MODE === "e2e") {
    const { installFake, createFakeBackend } = await import("./fake/backend");
    const backend = installFake(createFakeBackend());
    (window as unknown as { __fake: unknown }).__fake = backend;
  }
  createRoot(root).render(
    <StrictMode>
      <MantineProvider defaultColorScheme="auto">
        <QueryClientProvider client={queryClient}>
          <App />
        </QueryClientProvider>
      </MantineProvider>
    </StrictMode>,
  );
}

const root = document.getElementById("root");
if (root) void start(root);
