import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// The app shell is cached by a service worker, so a reload while offline still opens the party
// (its history and queued changes come from the SDK's IndexedDB cache and outbox).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker
    .register('/sw.js')
    .then(() => navigator.serviceWorker.ready)
    .then(async (registration) => {
      const worker = registration.active;
      if (!worker) return;
      await new Promise<void>((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => resolve();
        worker.postMessage({ type: 'cache-shell' }, [channel.port2]);
      });
      document.documentElement.dataset.offlineReady = 'true';
    })
    .catch((error: unknown) => console.warn('offline support unavailable', error));
}
