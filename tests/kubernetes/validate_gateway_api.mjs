// Validates Gateway API objects (a JSON array on stdin) with the JSON-schema validators that ship
// in @kubernetes-models/gateway-api, installed by tests/kubernetes/tools.py into a cache folder.
// Usage: node validate_gateway_api.mjs NODE_MODULES < objects.json
// Prints {"checked": n, "errors": [...]}; exits 1 when any object is invalid.
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const nodeModules = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));
const errors = [];
for (const obj of objects) {
  const [group, version] = obj.apiVersion.split("/");
  const file = join(nodeModules, "@kubernetes-models/gateway-api", group, version, `${obj.kind}.js`);
  const name = `${obj.kind}/${obj.metadata?.name}`;
  if (!existsSync(file)) {
    errors.push(`${name}: no model for ${obj.apiVersion} ${obj.kind}`);
    continue;
  }
  const Model = (await import(pathToFileURL(file).href))[obj.kind];
  try {
    new Model(obj).validate();
  } catch (error) {
    errors.push(`${name}: ${error.message}`);
  }
}
process.stdout.write(JSON.stringify({ checked: objects.length, errors }));
process.exit(errors.length ? 1 : 0);
