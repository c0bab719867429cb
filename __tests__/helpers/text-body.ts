import type request from 'supertest';

/**
 * A supertest parser that reads any body as UTF-8 text: superagent buffers only the types it
 * knows, and SVG or health+json is not one of them. Use as `.buffer(true).parse(textBody)`.
 */
export const textBody = ((response: NodeJS.ReadableStream, done: (error: Error | null, body: string) => void): void => {
  let text = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => (text += chunk));
  response.on('end', () => {
    done(null, text);
  });
}) as unknown as Parameters<request.Test['parse']>[0];
