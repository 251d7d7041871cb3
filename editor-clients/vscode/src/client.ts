// The language client: `vetted serve` over stdio, the documents of `vetted.languages`, and a
// middleware that drops suggestions while they are switched off (or their language is taken
// off the list since the client started) and times each inline request.
import { LanguageClient, LanguageClientOptions, Middleware, ServerOptions, TransportKind }
  from "vscode-languageclient/node";
import * as vscode from "vscode";

import { documentSelector, languages, Read, serverCommand, serverSettings } from "./settings";

export interface InlineObserver {
  enabled(): boolean;
  started(): void;
  finished(milliseconds: number): void;
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
      try {
        return await next(document, position, context, token);
      } finally {
        observer.finished(Date.now() - started);
      }
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
