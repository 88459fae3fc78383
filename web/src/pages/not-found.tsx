import { Link } from '../router';

export default function NotFound() {
  return (
    <>
      <h1>Not found</h1>
      <p>
        This page does not exist. Go to the <Link to="/">overview</Link>.
      </p>
    </>
  );
}
