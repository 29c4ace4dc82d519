// Reference composition for the differential test: reads [{name, url, sdl}] as JSON on stdin,
// prints Apollo's (or, with argument "guild", The Guild's) supergraph SDL, or the errors.
// Needs @apollo/composition, @theguild/federation-composition and graphql installed in the
// directory given by NODE_PATH (see test_reference.py).
import { composeServices } from "@apollo/composition";
import { composeServices as guild } from "@theguild/federation-composition";
import { parse } from "graphql";
import fs from "fs";

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const services = input.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) }));
const result = process.argv[2] === "guild" ? guild(services) : composeServices(services);
if (result.errors && result.errors.length) {
  for (const e of result.errors) console.log("ERROR", e.extensions?.code, e.message);
  process.exit(1);
}
process.stdout.write(result.supergraphSdl + "\n");
