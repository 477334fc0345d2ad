/** Docker's live event stream, one parsed event at a time (the engine keeps only its last 256, so watch them live). */
import type Docker from 'dockerode';

export interface DockerEvent { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }

/** Follows the engine's events that match `filters` (as `docker events --filter`); destroy() stops following. */
export async function followDockerEvents(
  docker: Docker, filters: Record<string, string[]>, onEvent: (event: DockerEvent) => void,
): Promise<{ destroy(): void }> {
  const stream = await docker.getEvents({ filters: JSON.stringify(filters) as never }) as NodeJS.ReadableStream & { destroy(): void };
  let buffered = '';
  stream.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) onEvent(JSON.parse(line) as DockerEvent);
  });
  return stream;
}
