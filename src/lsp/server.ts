// The rnnc language server: the compiler's own diagnostics on open and on every change, hover (a
// name's kind and shape; a state's analysis) and go-to-definition. It owns no compiler logic: each
// document goes through the front end (src/driver/front-end.ts) and the answers are read off its
// result. Transport-agnostic: `serve` takes a connection; stdio.ts makes the one `rnnc lsp` uses.
import { TextDocuments, TextDocumentSyncKind, type Connection, type Definition, type Hover, type InitializeResult } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { analyseDocument, documentHasErrors, type AnalysedDocument } from './document.js';
import { rangeOf, toLspDiagnostic } from './diagnostics.js';
import { hoverText } from './hover.js';
import { definitionOf, occurrenceAt } from './names.js';

export const capabilities: InitializeResult['capabilities'] = {
  textDocumentSync: TextDocumentSyncKind.Incremental,
  hoverProvider: true,
  definitionProvider: true,
};

/**
 * How long the diagnostics wait for the typing to pause. One front-end run takes 20-200 ms for the
 * examples on a loaded machine (docs/editor.md); without the wait each keystroke would queue one.
 */
export const DIAGNOSTICS_DELAY_MS = 120;

export function serve(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const analysed = new Map<string, AnalysedDocument>();
  const pending = new Map<string, NodeJS.Timeout>();

  /** The document's analysis at its current version, run once per version. */
  function current(uri: string): AnalysedDocument | undefined {
    const doc = documents.get(uri);
    if (!doc) return undefined;
    const cached = analysed.get(uri);
    if (cached && cached.version === doc.version) return cached;
    const fresh = analyseDocument(uri, doc.version, doc.getText());
    analysed.set(uri, fresh);
    return fresh;
  }

  function publish(uri: string): void {
    const version = documents.get(uri)?.version;
    if (version === undefined) return;
    let diagnostics;
    try {
      const doc = current(uri)!;
      diagnostics = doc.result.diagnostics.map((d) => toLspDiagnostic(d, doc.source, uri));
    } catch (e) {
      // A compiler bug must not take the server down: say so where the user looks, as the CLI would.
      const err = e as Error;
      connection.console.error(`rnnc: internal error on ${uri}: ${err.stack ?? err.message}`);
      diagnostics = [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: 1 as const, source: 'rnnc', message: `rnnc: internal error: ${err.message} (please report it)` }];
    }
    void connection.sendDiagnostics({ uri, version, diagnostics });
  }

  /** The analysed document and the name under a position, when there is one. */
  function nameAt(uri: string, position: { line: number; character: number }) {
    const text = documents.get(uri);
    const doc = current(uri);
    if (!text || !doc) return undefined;
    const occurrence = occurrenceAt(doc.names, text.offsetAt(position));
    return occurrence && { doc, occurrence };
  }

  connection.onInitialize((): InitializeResult => ({ capabilities, serverInfo: { name: 'rnnc' } }));

  documents.onDidChangeContent(({ document: { uri } }) => {
    clearTimeout(pending.get(uri));
    pending.set(
      uri,
      setTimeout(() => {
        pending.delete(uri);
        publish(uri);
      }, DIAGNOSTICS_DELAY_MS),
    );
  });
  documents.onDidClose((event) => {
    clearTimeout(pending.get(event.document.uri));
    pending.delete(event.document.uri);
    analysed.delete(event.document.uri);
    void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
  });

  connection.onHover((params): Hover | null => {
    const at = nameAt(params.textDocument.uri, params.position);
    if (!at?.doc.result.checked) return null;
    const { doc, occurrence } = at;
    const value = hoverText(occurrence.target, { source: doc.source, checked: doc.result.checked!, ...(doc.result.analysis ? { analysis: doc.result.analysis } : {}), hasErrors: documentHasErrors(doc) });
    return { contents: { kind: 'markdown', value }, range: rangeOf(occurrence.span, doc.source) };
  });

  connection.onDefinition((params): Definition | null => {
    const at = nameAt(params.textDocument.uri, params.position);
    const span = at && definitionOf(at.occurrence.target);
    return span ? { uri: params.textDocument.uri, range: rangeOf(span, at.doc.source) } : null;
  });

  documents.listen(connection);
  connection.listen();
}
