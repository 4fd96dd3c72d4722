import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { StoreContext } from "./context";
import { socketUrl, type SocketLike } from "./lib/live";
import { createAppStore } from "./store";
import "./styles.css";

const store = createAppStore({
  storage: window.localStorage,
  // The browser's WebSocket has the shape SocketLike names (its handlers take richer events).
  connect: (url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike,
  socketUrl: socketUrl(window.location),
  history: window.history,
  pathname: window.location.pathname + window.location.search,
});

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <StoreContext.Provider value={store}>
      <App />
    </StoreContext.Provider>
  </StrictMode>,
);

void store.getState().start();
