// Reads the dashboard's JSON API (same origin: the token cookie, if any, goes along). A failed
// answer becomes an Error with the server's message.

import type { ErrorResponse } from '../dashboard-api-types.ts';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function getJson<T>(path: string, params: URLSearchParams = new URLSearchParams()): Promise<T> {
  const query = params.toString();
  const response = await fetch(query === '' ? path : `${path}?${query}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) {
    let message = `${String(response.status)} ${response.statusText}`;
    try {
      const body = (await response.json()) as Partial<ErrorResponse>;
      if (typeof body.error === 'string') message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, message);
  }
  return (await response.json()) as T;
}
