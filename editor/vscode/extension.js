// The VS Code client for rnnc's language server: it starts `rnnc lsp --stdio` and lets
// vscode-languageclient speak the protocol with it. Highlighting needs none of this (the grammar in
// syntaxes/ is declarative). CommonJS, as VS Code loads extensions; no build step.
//
// vscode-languageclient is this folder's own dependency, not the rnnc package's: run `npm install`
// here (docs/editor.md). It is resolved when the extension activates, so that a missing install is a
// message in the editor rather than an extension that fails to load.
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');

/** @type {import('vscode-languageclient/node').LanguageClient | undefined} */
let client;

/** How to run the server: the setting, else this repository's rnnc, the workspace's, or the PATH's. */
function serverCommand(context) {
  const config = vscode.workspace.getConfiguration('rnnc.server');
  const command = config.get('command');
  if (command) return { command, args: config.get('args') ?? ['lsp', '--stdio'] };
  // In the rnnc repository (editor/vscode): its bin/rnnc-lsp.js, which runs the built dist/.
  const repoBin = path.join(context.extensionPath, '..', '..', 'bin', 'rnnc-lsp.js');
  if (existsSync(repoBin)) return { command: 'node', args: [repoBin] };
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const local = path.join(folder.uri.fsPath, 'node_modules', '.bin', process.platform === 'win32' ? 'rnnc.cmd' : 'rnnc');
    if (existsSync(local)) return { command: local, args: ['lsp', '--stdio'] };
  }
  return { command: 'rnnc', args: ['lsp', '--stdio'] };
}

async function activate(context) {
  let languageClient;
  try {
    languageClient = require('vscode-languageclient/node');
  } catch {
    void vscode.window.showErrorMessage('rnnc: vscode-languageclient is not installed; run `npm install` in the extension folder (editor/vscode). Highlighting works without it.');
    return;
  }
  const { LanguageClient } = languageClient;
  // No `transport`: the client spawns the command as given and talks over its stdin and stdout.
  const server = serverCommand(context);
  client = new LanguageClient('rnnc', 'rnnc language server', server, {
    documentSelector: [{ language: 'rnn' }],
  });
  context.subscriptions.push(client);
  await client.start();
}

async function deactivate() {
  if (client) await client.stop();
}

module.exports = { activate, deactivate };
