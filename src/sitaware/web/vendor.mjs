// Copies the front-end libraries the web pages use from node_modules into static/web/vendor/, with their
// licences, and turns world-atlas country boundaries into the small offline basemap GeoJSON.
// Run from the repository root: `npm ci && npm run vendor`. The copied files are committed, so running the
// site needs neither npm nor a network.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { feature } from "topojson-client";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const modules = join(root, "node_modules");
const vendor = join(here, "static", "web", "vendor");

const copies = {
  "maplibre-gl/dist/maplibre-gl.js": "maplibre-gl/maplibre-gl.js",
  "maplibre-gl/dist/maplibre-gl.css": "maplibre-gl/maplibre-gl.css",
  "maplibre-gl/LICENSE.txt": "maplibre-gl/LICENSE.txt",
  "h3-js/dist/h3-js.umd.js": "h3-js/h3-js.umd.js",
  "h3-js/LICENSE": "h3-js/LICENSE",
  "h3-js/NOTICE": "h3-js/NOTICE",
  "world-atlas/LICENSE": "world-atlas/LICENSE",
  // Accessibility checks for the browser tests only; no page loads it.
  "axe-core/axe.min.js": "axe-core/axe.min.js",
  "axe-core/LICENSE": "axe-core/LICENSE",
  "axe-core/LICENSE-3RD-PARTY.txt": "axe-core/LICENSE-3RD-PARTY.txt",
};
// Source maps are not shipped: the comment pointing at them is dropped so browsers and hashed static storage
// do not look for a file that is not there.
const noSourceMap = (text) => text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
for (const [from, to] of Object.entries(copies)) {
  mkdirSync(dirname(join(vendor, to)), { recursive: true });
  if (to.endsWith(".js")) {
    writeFileSync(join(vendor, to), noSourceMap(readFileSync(join(modules, from), "utf8")));
  } else {
    copyFileSync(join(modules, from), join(vendor, to));
  }
}

// 1:50m boundaries are detailed enough to recognise districts' outlines at mission scale; three decimals
// (about 100 m) keep the file small without visible loss at the zooms the basemap is used for.
const round = (value) => (Array.isArray(value) ? value.map(round) : Math.round(value * 1000) / 1000);
const topology = JSON.parse(readFileSync(join(modules, "world-atlas", "countries-50m.json"), "utf8"));
const countries = feature(topology, topology.objects.countries);
for (const item of countries.features) {
  item.geometry.coordinates = round(item.geometry.coordinates);
  item.properties = { name: item.properties.name };
}
writeFileSync(join(vendor, "world-atlas", "countries-50m.geojson"), JSON.stringify(countries));

const versions = Object.fromEntries(
  ["maplibre-gl", "h3-js", "world-atlas", "axe-core"].map((name) => [
    name, JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version,
  ]),
);
writeFileSync(join(vendor, "VERSIONS.json"), JSON.stringify(versions, null, 2) + "\n");
console.log("vendored", versions);
