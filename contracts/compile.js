// Compiles the project's contracts with solcjs (npm `solc`, pinned in package-lock.json)
// into build/contracts/<Name>.json: {"abi": [...], "bytecode": "0x..."}. Not committed:
// the sandbox and the test fixtures run this when the artifacts are missing or older
// than a source. Usage: node contracts/compile.js [OUT_DIR]
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const here = __dirname;
const out = path.resolve(process.argv[2] || path.join(here, "..", "build", "contracts"));
const sources = {};
for (const name of fs.readdirSync(here).filter((f) => f.endsWith(".sol")).sort()) {
  sources[name] = { content: fs.readFileSync(path.join(here, name), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "paris",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length) process.exit(1);
fs.mkdirSync(out, { recursive: true });
for (const file of Object.keys(output.contracts)) {
  for (const [name, contract] of Object.entries(output.contracts[file])) {
    const artifact = { abi: contract.abi, bytecode: "0x" + contract.evm.bytecode.object };
    // Written aside, then renamed: a reader (another test process) never sees half a file.
    const file_ = path.join(out, name + ".json");
    fs.writeFileSync(file_ + "." + process.pid + ".tmp", JSON.stringify(artifact, null, 1) + "\n");
    fs.renameSync(file_ + "." + process.pid + ".tmp", file_);
  }
}
process.stdout.write(`compiled ${Object.keys(sources).length} sources with solc ${solc.version()} into ${out}\n`);
