// Bundles web/src into web/dist with esbuild: one module per page plus the shared main module,
// and the stylesheet. `--watch` rebuilds on change.
import * as esbuild from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";

const watch = process.argv.includes("--watch");
const options = {
  entryPoints: [
    "src/main.ts",
    "src/pages/login.ts",
    "src/pages/password-reset.ts",
    "src/pages/second-factor.ts",
    "src/pages/dashboard.ts",
    "src/app.css",
    "src/chat.ts",
    "src/chat.css",
    "src/pages/whiteboard.ts",
    "src/pages/pool.ts",
    { in: "src/pages/guest/main.ts", out: "pages/guest" },
    "src/pages/create.ts",
    "src/pages/sdn.ts",
    "src/pages/admin-pools.ts",
    "src/pages/admin-notifications.ts",
    "src/pages/admin-audit.ts",
    "src/pages/settings.ts",
    "src/pages/admin-users.ts",
    "src/pages/hardware.ts",
    "src/pages/node.ts",
    "src/pages/docs.ts",
    "src/pages/admin-docs.ts",
    "src/pages/admin-limits.ts",
    "src/pages/admin-acl.ts",
    "src/pages/admin-consoles.ts",
    "src/pages/console.ts",
  ],
  outdir: "dist",
  outbase: "src",
  bundle: true,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  format: "esm",
  target: ["es2022"],
  minify: !watch,
  sourcemap: true,
  logLevel: "info",
};

await mkdir("dist", { recursive: true });
await copyFile("src/favicon.svg", "dist/favicon.svg");
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
