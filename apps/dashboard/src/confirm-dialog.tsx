import { useEffect, useRef } from 'preact/hooks';

/** A modal question (the browser's <dialog>: focus kept inside, Escape cancels). */
export function ConfirmDialog(props: {
  question: string;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog
      ref={dialog}
      class="confirm"
      // Escape (a cancel, then a close): the question is withdrawn.
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
      onClose={props.onCancel}
      aria-labelledby="confirm-question"
    >
      <p id="confirm-question">{props.question}</p>
      <div class="row">
        <button type="button" onClick={props.onCancel} autofocus>
          Keep it
        </button>
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
