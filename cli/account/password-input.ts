/**
 * Reading a password for `parley register` and `parley login`: never from the command line
 * (`ps` shows it). On a terminal it is asked for without echo; otherwise the first line of
 * stdin is the password (`printf '%s\n' "$PASSWORD" | parley login alice`).
 */
import type { Readable, Writable } from 'node:stream';

/** Longest password read (the server's own limit is lower; this only bounds the read). */
const MAX_PASSWORD_CHARS = 4096;

export async function readPassword(stdin: Readable, prompt: Writable, question: string): Promise<string> {
  const tty = stdin as Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
  if (tty.isTTY === true && typeof tty.setRawMode === 'function') return readFromTerminal(tty as Readable & { setRawMode: (raw: boolean) => void }, prompt, question);
  return readFirstLine(stdin);
}

function readFirstLine(stdin: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (value: string): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', reject);
      stdin.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      const newline = text.search(/\r?\n/);
      if (newline >= 0) done(text.slice(0, newline));
      else if (text.length > MAX_PASSWORD_CHARS) done(text.slice(0, MAX_PASSWORD_CHARS));
    };
    const onEnd = (): void => done(text);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', reject);
  });
}

function readFromTerminal(stdin: Readable & { setRawMode: (raw: boolean) => void }, prompt: Writable, question: string): Promise<string> {
  prompt.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      prompt.write('\n');
    };
    const onData = (chunk: Buffer | string): void => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          resolve(text);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new Error('interrupted'));
          return;
        }
        if (char === '\u007f' || char === '\b') text = text.slice(0, -1);
        else if (text.length < MAX_PASSWORD_CHARS) text += char;
      }
    };
    stdin.on('data', onData);
  });
}
