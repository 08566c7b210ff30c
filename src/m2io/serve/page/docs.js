// The offline API page: lists the routes of /openapi.json with their summaries, parameters and
// request/response schemas. Text goes in with textContent only.
"use strict";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function schemaName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return "array of " + schemaName(schema.items);
  if (schema.anyOf) return schema.anyOf.map(schemaName).join(" | ");
  return schema.type || "object";
}

function schemaBlock(title, schema, components) {
  const box = el("div", "schema");
  box.appendChild(el("strong", "", title + ": " + schemaName(schema)));
  const name = schema && schema.$ref ? schema.$ref.split("/").pop() : null;
  const def = name ? components[name] : null;
  if (def && def.properties) {
    const ul = el("ul");
    for (const [prop, spec] of Object.entries(def.properties)) {
      const req = (def.required || []).includes(prop) ? " (required)" : "";
      const desc = spec.description ? " — " + spec.description : "";
      ul.appendChild(el("li", "", prop + ": " + schemaName(spec) + req + desc));
    }
    box.appendChild(ul);
  }
  return box;
}

async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("api-title").textContent = spec.info.title + " API " + spec.info.version;
  const components = (spec.components || {}).schemas || {};
  const root = document.getElementById("routes");
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const sec = el("section", "route");
      sec.appendChild(el("h2", "", method.toUpperCase() + " " + path));
      if (op.summary) sec.appendChild(el("p", "", op.summary));
      if (op.description) sec.appendChild(el("p", "note", op.description));
      for (const p of op.parameters || []) {
        sec.appendChild(el("p", "", "parameter " + p.name + " (in " + p.in + ")"));
      }
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        for (const [type, media] of Object.entries(body)) {
          sec.appendChild(schemaBlock("request " + type, media.schema, components));
        }
      }
      const ok = (op.responses || {})["200"];
      if (ok && ok.content) {
        for (const [type, media] of Object.entries(ok.content)) {
          sec.appendChild(schemaBlock("response " + type, media.schema, components));
        }
      }
      root.appendChild(sec);
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  main().catch((err) => {
    document.getElementById("routes").appendChild(el("p", "note", "Cannot read /openapi.json: " + err));
  });
});
