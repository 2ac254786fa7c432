import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served under /console/ by the local stack and by CloudFront (make deploy-console uploads there).
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
});
