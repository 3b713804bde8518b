// One open document, analysed: the front end's result (the same passes `rnnc check` runs: parse,
// check, lower, analyse) and the index of its names. Rebuilt on every change; a change costs one run
// of the front end (tens to a few hundred milliseconds per example on a loaded machine, docs/editor.md).
import { fileURLToPath } from 'node:url';
import { hasErrors } from '../compiler/diagnostics/diagnostic.js';
import { SourceFile } from '../compiler/diagnostics/render.js';
import { frontEnd, type FrontEndResult } from '../driver/front-end.js';
import { indexNames, type Occurrence } from './names.js';

export interface AnalysedDocument {
  uri: string;
  version: number;
  source: SourceFile;
  result: FrontEndResult;
  names: Occurrence[];
}

/** The path diagnostics name: the file's path for a file: URI, else the URI itself. */
function pathOf(uri: string): string {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
  } catch {
    return uri;
  }
}

export function analyseDocument(uri: string, version: number, text: string): AnalysedDocument {
  const source = new SourceFile(pathOf(uri), text);
  const result = frontEnd(source);
  const names = result.ast && result.checked ? indexNames(result.ast, result.checked) : [];
  return { uri, version, source, result, names };
}

export const documentHasErrors = (doc: AnalysedDocument): boolean => hasErrors(doc.result.diagnostics);
