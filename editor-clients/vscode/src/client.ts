// The language client: `vetted serve` over stdio, the documents of `vetted.languages`, and a
// middleware that drops suggestions while they are switched off (or their language is taken
// off the list since the client started), times each inline request and passes the items on
// to the suggestion signals (signals.ts).
import { LanguageClient, LanguageClientOptions, Middleware, ServerOptions, TransportKind }
  from "vscode-languageclient/node";
import * as vscode from "vscode";

import { documentSelector, languages, Read, serverCommand, serverSettings } from "./settings";
import { CodeItem } from "./signals";

export interface InlineObserver {
  enabled(): boolean;
  started(): void;
  finished(milliseconds: number): void;
  /** The items returned for `uri`, each with the document offset its text starts at. */
  received(uri: string, items: CodeItem[], starts: number[]): void;
}

export function createClient(
  read: Read, output: vscode.LogOutputChannel, observer: InlineObserver,
): LanguageClient {
  const { command, args } = serverCommand(read);
  const server: ServerOptions = { command, args, transport: TransportKind.stdio };
  const middleware: Middleware = {
    provideInlineCompletionItems: async (document, position, context, token, next) => {
      if (!observer.enabled() || !languages(read).includes(document.languageId)) {
        return [];
      }
      observer.started();
      const started = Date.now();
      let found;
      try {
        found = await next(document, position, context, token);
      } finally {
        observer.finished(Date.now() - started);
      }
      const items = (Array.isArray(found) ? found : found?.items) ?? [];
      observer.received(document.uri.toString(), items,
                        items.map((item) => document.offsetAt(item.range?.start ?? position)));
      return found;
    },
  };
  const options: LanguageClientOptions = {
    documentSelector: documentSelector(read),
    initializationOptions: serverSettings(read),
    outputChannel: output,
    middleware,
  };
  return new LanguageClient("vetted", "vetted", server, options);
}
