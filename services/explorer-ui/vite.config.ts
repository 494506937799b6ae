/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API serves dist/ (its --static-dir); `npm run dev` proxies the API so
// the same relative URLs (/graphql, /graphql/ws) work in both.
const api = process.env.EXPLORER_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      "/graphql": { target: api, ws: true, changeOrigin: true },
    },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
