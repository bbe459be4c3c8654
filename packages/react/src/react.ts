// The package's one import of React: bundlers that keep React external then emit a single import.
export { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
