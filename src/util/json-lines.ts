/**
 * Appending to a JSON-lines log that an operator reads after an incident: the folder is made if
 * missing, the line is written in one call to a file opened for appending, and synced before
 * this returns, so a line reported written survives a crash.
 */
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';

export async function appendJsonLine(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const handle = await open(file, 'a');
  try {
    await handle.write(`${JSON.stringify(value)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
