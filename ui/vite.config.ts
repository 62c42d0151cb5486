// Vite builds the interface into dist/, which the Tauri shell embeds;
// Vitest runs the interface's unit tests in jsdom.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  // Tauri serves the files itself; relative paths keep them loadable from
  // the bundle and from a plain file server in the browser tests.
  base: "./",
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  // One bundle, read from the app's own files rather than a network: its
  // size (charts included) costs no download, so the chunk warning is raised.
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  test: { environment: "jsdom", globals: true, include: ["src/**/*.test.{ts,tsx}"], setupFiles: ["src/test-setup.ts"] },
});
