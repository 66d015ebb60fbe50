// Renders ZPL files to PNG with zpl-renderer-js (Zebrash compiled to WebAssembly): an interpreter
// written independently of labeld, used by tests/lang_zpl_independent.rs.
// Usage: node render.js WIDTH_MM HEIGHT_MM DOTS_PER_MM IN.zpl OUT.png [IN.zpl OUT.png ...]
"use strict";
const fs = require("fs");
const { zplToBase64Async } = require("zpl-renderer-js");

async function main() {
  const [widthMm, heightMm, dpmm, ...files] = process.argv.slice(2);
  if (!dpmm || files.length === 0 || files.length % 2 !== 0) {
    console.error("usage: node render.js WIDTH_MM HEIGHT_MM DOTS_PER_MM IN.zpl OUT.png [IN.zpl OUT.png ...]");
    process.exit(2);
  }
  for (let i = 0; i < files.length; i += 2) {
    const zpl = fs.readFileSync(files[i], "latin1");
    const png = await zplToBase64Async(zpl, Number(widthMm), Number(heightMm), Number(dpmm));
    fs.writeFileSync(files[i + 1], Buffer.from(png, "base64"));
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(`zpl-renderer-js: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
