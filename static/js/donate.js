// Threadline: the donate page. Card details go from Stripe.js straight to Stripe; this
// file only sends the server the payment method Stripe.js created, the amount chosen
// and the donor's name and email. The server computes the amount it charges.
//
// With Stripe's own Stripe.js this uses the Payment Element ("finalize payments on the
// server": createPaymentMethod, then the server creates and confirms the PaymentIntent or
// Subscription, then handleNextAction if the bank asks for authentication). localstripe's
// Stripe.js, used by the embedded default and the tests, has no Payment Element: there
// the card element confirms a SetupIntent to create the payment method, and
// confirmCardPayment authenticates. Everything else is the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-donate]");
  if (!form) return;
  var statusBox = form.querySelector("[data-donate-status]");
  var submit = form.querySelector("[data-donate-submit]");
  var unavailable = document.getElementById("donate-unavailable");

  function showUnavailable() {
    form.hidden = true;
    if (unavailable) unavailable.hidden = false;
  }

  if (typeof window.Stripe !== "function") {  // Stripe.js could not be loaded
    showUnavailable();
    return;
  }

  var stripe = window.Stripe(form.getAttribute("data-publishable-key"));
  var emulated = typeof stripe.confirmPayment !== "function";
  var currency = form.getAttribute("data-currency");
  var minAmount = parseInt(form.getAttribute("data-min-amount"), 10) || 100;
  var elements, card;

  function say(text, isError) {
    statusBox.textContent = text || "";
    statusBox.classList.toggle("is-error", !!isError);
  }

  function checked(name) {
    var input = form.querySelector("input[name='" + name + "']:checked");
    return input ? input.value : null;
  }

  function monthly() { return checked("frequency") === "monthly"; }

  function amountInCents() {
    var choice = checked("amount");
    if (choice && choice !== "other") return parseInt(choice, 10);
    var text = (form.querySelector("input[name='other_amount']").value || "").replace(",", ".");
    var value = Math.round(parseFloat(text) * 100);
    return isFinite(value) && value >= minAmount ? value : minAmount;
  }

  // What the Payment Element needs to know of the gift (the server decides the charge).
  function giftOptions() {
    var options = {mode: monthly() ? "subscription" : "payment", amount: amountInCents(),
                   currency: currency};
    if (monthly()) options.setupFutureUsage = "off_session";
    return options;
  }

  if (emulated) {
    elements = stripe.elements();
    card = elements.create("card");
  } else {
    var options = giftOptions();
    options.paymentMethodCreation = "manual";  // the server creates and confirms the payment
    options.paymentMethodTypes = ["card"];
    elements = stripe.elements(options);
    card = elements.create("payment");
    form.addEventListener("change", function (event) {
      if (["amount", "other_amount", "frequency"].indexOf(event.target.name) !== -1) {
        elements.update(giftOptions());
      }
    });
  }
  card.mount("#payment-element");

  function post(url, extra) {
    var data = new FormData(form);
    Object.keys(extra || {}).forEach(function (key) { data.set(key, extra[key]); });
    return fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"Accept": "application/json"}
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        body.httpStatus = response.status;
        return body;
      });
    });
  }

  function billingDetails() {
    return {
      name: form.querySelector("input[name='name']").value,
      email: form.querySelector("input[name='email']").value
    };
  }

  // A payment method id ("pm_...") from the card the donor entered.
  function createPaymentMethod() {
    if (!emulated) {
      return elements.submit().then(function (result) {
        if (result.error) throw result.error;
        return stripe.createPaymentMethod({elements: elements, params: {billing_details: billingDetails()}});
      }).then(function (result) {
        if (result.error) throw result.error;
        return result.paymentMethod.id;
      });
    }
    return post(form.getAttribute("data-setup-url")).then(function (body) {
      if (!body.client_secret) throw {message: body.message, unavailable: body.httpStatus === 503};
      return stripe.confirmCardSetup(body.client_secret, {
        payment_method: {card: card, billing_details: billingDetails()}
      });
    }).then(function (result) {
      if (result.error) throw result.error;
      var method = result.setupIntent.payment_method;
      return typeof method === "string" ? method : method.id;
    });
  }

  function authenticate(clientSecret) {
    var step = emulated ? stripe.confirmCardPayment(clientSecret)
                        : stripe.handleNextAction({clientSecret: clientSecret});
    return step.then(function (result) {
      if (result.error) throw result.error;
    });
  }

  var busy = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    busy = true;
    submit.disabled = true;
    say(form.getAttribute("data-processing"));
    createPaymentMethod().then(function (paymentMethod) {
      return post(form.action, {payment_method: paymentMethod});
    }).then(function (body) {
      if (body.attempt) form.querySelector("input[name='attempt']").value = body.attempt;
      if (body.status === "requires_action") {
        return authenticate(body.client_secret).then(function () { return body; });
      }
      if (body.status === "succeeded" || body.status === "processing") return body;
      throw {message: body.message || form.getAttribute("data-declined"),
             unavailable: body.status === "unavailable",
             errors: body.errors};
    }).then(function (body) {
      window.location.assign(body.redirect);
    }).catch(function (error) {
      busy = false;
      submit.disabled = false;
      var message = (error && error.message) || form.getAttribute("data-declined");
      if (error && error.errors) {
        message = Object.keys(error.errors).map(function (k) { return error.errors[k].join(" "); }).join(" ");
      }
      if (error && error.unavailable) message = form.getAttribute("data-unavailable");
      say(message, true);
    });
  });
})();
