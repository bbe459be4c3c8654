import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { signIn } from './config';

const user = signIn();
const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App user={user} />
  </StrictMode>,
);

// The app shell is cached by a service worker, so a reload while offline still opens the app; the
// messages (history and the ones still waiting to be sent) come from the SDK's IndexedDB.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker
    .register('/sw.js')
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      document.documentElement.dataset.offlineReady = 'true';
    })
    .catch((error: unknown) => console.warn('offline support unavailable', error));
}
