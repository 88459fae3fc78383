import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { ApiError, api, onUnauthenticated, setCsrfToken } from './api';
import type { Me } from './types';

interface Auth {
  /** undefined while the session is being checked; null when signed out. */
  me: Me | null | undefined;
  signIn: (me: Me) => void;
  signOut: () => Promise<void>;
  /** Set when the session ended by itself (expired, revoked). */
  ended: boolean;
}

const AuthContext = createContext<Auth>({
  me: undefined,
  signIn: () => {},
  signOut: async () => {},
  ended: false,
});

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [ended, setEnded] = useState(false);

  useEffect(() => {
    api.me().then(
      (m) => {
        setCsrfToken(m.csrfToken);
        setMe(m);
      },
      (err: unknown) => {
        if (!(err instanceof ApiError) || err.status !== 401) console.warn('session check failed', err);
        setMe(null);
      },
    );
    return onUnauthenticated(() => {
      setCsrfToken(null);
      setEnded(true);
      setMe(null);
    });
  }, []);

  const signIn = useCallback((m: Me) => {
    setCsrfToken(m.csrfToken);
    setEnded(false);
    setMe(m);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setCsrfToken(null);
      setEnded(false);
      setMe(null);
    }
  }, []);

  const value = useMemo(() => ({ me, signIn, signOut, ended }), [me, signIn, signOut, ended]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  return useContext(AuthContext);
}

/** The signed-in user; only for components rendered behind the login. */
export function useMe(): Me {
  const { me } = useContext(AuthContext);
  if (me === null || me === undefined) throw new Error('useMe outside the signed-in app');
  return me;
}
