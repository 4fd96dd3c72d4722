/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The gateway serves the build (services/gateway/gateway_service/static/app); `npm run dev`
// serves the sources with hot reload and hands the API and the WebSocket to a running
// gateway (SEMANTIK_URL, default http://127.0.0.1:8080).
const gateway = process.env.SEMANTIK_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../services/gateway/gateway_service/static/app",
    emptyOutDir: true,
  },
  server: {
    proxy: {
      "/api": gateway,
      "/health": gateway,
      "/ws": { target: gateway.replace(/^http/, "ws"), ws: true },
    },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.{ts,tsx}"],
    coverage: {
      provider: "v8",
      include: ["src/**/*.{ts,tsx}"],
      exclude: ["src/**/*.test.{ts,tsx}", "src/main.tsx", "src/test-support.tsx"],
      reporter: ["text-summary", "text"],
      thresholds: { lines: 70 },
    },
  },
});
