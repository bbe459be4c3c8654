/**
 * The relays the SDK connects to, in order of preference: `?relay=` in the page URL (repeatable, handy to
 * point two tabs at two relays), else `VITE_PARTYLINE_RELAYS` (comma list) at build time, else a relay on
 * this machine (`npm run relay`).
 */
export const relays: string[] = (() => {
  const fromUrl = new URLSearchParams(location.search).getAll('relay');
  if (fromUrl.length > 0) return fromUrl;
  const fromBuild = import.meta.env.VITE_PARTYLINE_RELAYS;
  if (typeof fromBuild === 'string' && fromBuild !== '') return fromBuild.split(',');
  return ['http://127.0.0.1:8080'];
})();

/** Who this tab is. A demo sign-in: `?user=` (default `ana`), kept in a cookie the token endpoint reads. */
export function signIn(): string {
  const user = new URLSearchParams(location.search).get('user') ?? 'ana';
  document.cookie = `partyline-demo-user=${encodeURIComponent(user)}; path=/; SameSite=Strict`;
  return user;
}
